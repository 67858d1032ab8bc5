// Connection settings, from the same environment variables Summer reads
// (tooling/services.env sets them for the real databases).

function setting(name: string, fallback: string): string {
  return process.env[name] ?? fallback;
}

export const config = {
  port: Number(setting('PORT', '3000')),
  postgres: {
    host: setting('DATABASE_HOST', '127.0.0.1'),
    port: Number(setting('DATABASE_PORT', '5432')),
    username: setting('DATABASE_USER', 'summer'),
    password: setting('DATABASE_PASSWORD', ''),
    database: setting('DATABASE_NAME', 'summer'),
  },
  redis: {
    host: setting('REDIS_HOST', '127.0.0.1'),
    port: Number(setting('REDIS_PORT', '6379')),
  },
  cassandra: {
    contactPoints: [`${setting('CASSANDRA_HOST', '127.0.0.1')}:${setting('CASSANDRA_PORT', '9042')}`],
    keyspace: setting('CASSANDRA_KEYSPACE', 'summer'),
  },
  neo4j: {
    url: `bolt://${setting('NEO4J_HOST', '127.0.0.1')}:${setting('NEO4J_PORT', '7687')}`,
    user: setting('NEO4J_USER', 'neo4j'),
    password: setting('NEO4J_PASSWORD', ''),
  },
  storage: {
    endPoint: setting('STORAGE_ENDPOINT', '127.0.0.1'),
    port: Number(setting('STORAGE_PORT', '9000')),
    accessKey: setting('STORAGE_ACCESS_KEY', ''),
    secretKey: setting('STORAGE_SECRET_KEY', ''),
    bucket: setting('STORAGE_BUCKET', 'summer'),
  },
};

// Where Summer-Trip's data lives in each store, as its components name it.
export const NAMESPACE = 'summer-trip';
export const GRAPH_PREFIX = 'summer_trip__';
