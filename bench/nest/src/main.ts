// The Summer-Trip routes as a NestJS app: one process, or with
// `NEST_CLUSTER=1` one worker per core under Node's cluster module.

import 'reflect-metadata';
import './common/timestamps';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { ApiErrorFilter } from './common/errors';
import { config } from './config';

async function serve() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.useGlobalFilters(new ApiErrorFilter());
  app.enableShutdownHooks();
  await app.listen(config.port, '127.0.0.1');
}

if (process.env.NEST_CLUSTER === '1' && cluster.isPrimary) {
  for (let i = 0; i < availableParallelism(); i++) {
    cluster.fork();
  }
  cluster.on('exit', (worker, code) => {
    console.error(`worker ${worker.process.pid} exited with ${code}`);
    process.exit(1);
  });
} else {
  serve().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
