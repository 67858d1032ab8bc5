import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClientsModule } from './clients';
import { config } from './config';
import { MessagesModule } from './messages/messages.module';
import { SocialModule } from './social/social.module';
import { StorageModule } from './storage/storage.module';
import { User } from './users/user.entity';
import { UsersModule } from './users/users.module';

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      ...config.postgres,
      entities: [User],
      synchronize: false,
    }),
    ClientsModule,
    UsersModule,
    MessagesModule,
    SocialModule,
    StorageModule,
  ],
})
export class AppModule {}
