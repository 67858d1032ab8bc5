import { Inject, Injectable } from '@nestjs/common';
import neo4j, { Driver } from 'neo4j-driver';
import { NEO4J } from '../clients';
import { GRAPH_PREFIX } from '../config';
import { Page } from '../messages/messages.service';
import { UsersService } from '../users/users.service';

export interface SuggestionView {
  user: { id: string; name: string };
  mutual_friends: number;
}

const PAGE_SIZE = 20;

// Friends of friends who are not friends yet, by how many friends they share.
const SUGGEST = `
  MATCH (me:\`${GRAPH_PREFIX}User\` {key: $key})-[:\`${GRAPH_PREFIX}FRIEND\`*2..2]-(m)
  WHERE m <> me AND NOT (me)-[:\`${GRAPH_PREFIX}FRIEND\`]-(m)
  WITH DISTINCT me, m
  OPTIONAL MATCH (me)-[:\`${GRAPH_PREFIX}FRIEND\`]-(shared)-[:\`${GRAPH_PREFIX}FRIEND\`]-(m)
  WITH m, count(DISTINCT shared) AS mutual
  RETURN m.key AS key, mutual ORDER BY mutual DESC, key LIMIT $limit`;

@Injectable()
export class SocialService {
  constructor(
    @Inject(NEO4J) private readonly neo4j: Driver,
    private readonly users: UsersService,
  ) {}

  /// The first page of friend suggestions for a user.
  async suggestions(userId: string): Promise<Page<SuggestionView>> {
    await this.users.require(userId);
    const session = this.neo4j.session({ defaultAccessMode: neo4j.session.READ });
    let ranked: { key: string; mutual: number }[];
    try {
      const result = await session.run(SUGGEST, { key: userId, limit: neo4j.int(PAGE_SIZE + 1) });
      ranked = result.records.map((r) => ({ key: r.get('key'), mutual: r.get('mutual').toNumber() }));
    } finally {
      await session.close();
    }
    const names = await this.users.namesOf(ranked.map((r) => r.key));
    const byId = new Map(names.map((u) => [u.id, u]));
    const items = ranked
      .filter((r) => byId.has(r.key))
      .map((r) => ({ user: byId.get(r.key)!, mutual_friends: r.mutual }));
    const more = items.length > PAGE_SIZE;
    return {
      items: items.slice(0, PAGE_SIZE),
      next_cursor: more ? Buffer.from(String(PAGE_SIZE)).toString('base64url') : null,
    };
  }
}
