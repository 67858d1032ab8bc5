import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import Redis from 'ioredis';
import { In, Repository } from 'typeorm';
import { REDIS } from '../clients';
import { notFound } from '../common/errors';
import { fromPostgres } from '../common/timestamps';
import { NAMESPACE } from '../config';
import { User } from './user.entity';

/// A user as the API shows it.
export interface UserView {
  id: string;
  name: string;
  email: string;
  created_at: string;
}

const CACHE_TTL_SECONDS = 60;

@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  /// The user, from the cache when it holds it (cache-aside, 60 s).
  async findOne(id: string): Promise<{ user: UserView; cached: boolean }> {
    const key = `${NAMESPACE}:nest:user:${id}`;
    const cached = await this.redis.get(key).catch(() => null);
    if (cached) {
      return { user: JSON.parse(cached), cached: true };
    }
    const found = await this.users.findOneBy({ id });
    if (!found) {
      throw notFound(`no user with id ${id}`);
    }
    const user = view(found);
    await this.redis.set(key, JSON.stringify(user), 'EX', CACHE_TTL_SECONDS).catch(() => undefined);
    return { user, cached: false };
  }

  /// The users among `ids` that exist, in the order of `ids`: id and name.
  async namesOf(ids: string[]): Promise<{ id: string; name: string }[]> {
    if (ids.length === 0) {
      return [];
    }
    const found = await this.users.find({ select: { id: true, name: true }, where: { id: In(ids) } });
    const names = new Map(found.map((u) => [u.id, u.name]));
    return ids.filter((id) => names.has(id)).map((id) => ({ id, name: names.get(id)! }));
  }

  /// The user's id and name, or a 404.
  async require(id: string): Promise<{ id: string; name: string }> {
    const [user] = await this.namesOf([id]);
    if (!user) {
      throw notFound(`no user with id ${id}`);
    }
    return user;
  }
}

function view(user: User): UserView {
  return { id: user.id, name: user.name, email: user.email, created_at: fromPostgres(user.created_at) };
}
