// The clients of the stores TypeORM does not cover, one of each per
// process, shared by the services that inject them.

import { Global, Module, OnApplicationShutdown, Inject } from '@nestjs/common';
import { Client as CassandraClient } from 'cassandra-driver';
import Redis from 'ioredis';
import { Client as MinioClient } from 'minio';
import neo4j, { Driver } from 'neo4j-driver';
import { config } from './config';

export const REDIS = 'REDIS';
export const CASSANDRA = 'CASSANDRA';
export const NEO4J = 'NEO4J';
export const MINIO = 'MINIO';

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      useFactory: () => new Redis(config.redis),
    },
    {
      provide: CASSANDRA,
      useFactory: async () => {
        const client = new CassandraClient({
          contactPoints: config.cassandra.contactPoints,
          localDataCenter: 'datacenter1',
          keyspace: config.cassandra.keyspace,
          // `bigint` columns (Summer's wide tables keep timestamps in
          // microseconds) as JavaScript BigInts.
          encoding: { useBigIntAsLong: true },
        });
        await client.connect();
        return client;
      },
    },
    {
      provide: NEO4J,
      useFactory: () =>
        neo4j.driver(config.neo4j.url, neo4j.auth.basic(config.neo4j.user, config.neo4j.password)),
    },
    {
      provide: MINIO,
      useFactory: () =>
        new MinioClient({
          endPoint: config.storage.endPoint,
          port: config.storage.port,
          useSSL: false,
          accessKey: config.storage.accessKey,
          secretKey: config.storage.secretKey,
          pathStyle: true,
        }),
    },
  ],
  exports: [REDIS, CASSANDRA, NEO4J, MINIO],
})
export class ClientsModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CASSANDRA) private readonly cassandra: CassandraClient,
    @Inject(NEO4J) private readonly neo4j: Driver,
  ) {}

  async onApplicationShutdown() {
    this.redis.disconnect();
    await this.cassandra.shutdown();
    await this.neo4j.close();
  }
}
