import { Inject, Injectable } from '@nestjs/common';
import { Client } from 'cassandra-driver';
import { v7 as uuidv7 } from 'uuid';
import { CASSANDRA } from '../clients';
import { invalid, parseId } from '../common/errors';
import { fromMicros } from '../common/timestamps';
import { UsersService } from '../users/users.service';
import { MESSAGES_TABLE, messagesCursor } from './cursor';

export interface MessageView {
  id: string;
  conversation_id: string;
  user_id: string;
  content: string;
  sent_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

const PAGE_SIZE = 20;
const MAX_CONTENT_CHARS = 4000;
const FIELDS = new Set(['conversation_id', 'user_id', 'content']);

@Injectable()
export class MessagesService {
  constructor(
    @Inject(CASSANDRA) private readonly cassandra: Client,
    private readonly users: UsersService,
  ) {}

  async send(body: Record<string, unknown>): Promise<MessageView> {
    const unknown = Object.keys(body ?? {}).find((field) => !FIELDS.has(field));
    if (unknown !== undefined) {
      throw invalid(`unknown field ${unknown}`);
    }
    const conversationId = parseId('conversation_id', text(body, 'conversation_id'));
    const userId = parseId('user_id', text(body, 'user_id'));
    const content = checkedContent(text(body, 'content'));
    await this.users.require(userId);
    const id = uuidv7();
    // A UUIDv7 starts with its millisecond; the message was sent then.
    const sentAt = BigInt(parseInt(id.replace(/-/g, '').slice(0, 12), 16)) * 1000n;
    await this.cassandra.execute(
      `INSERT INTO ${MESSAGES_TABLE} (conversation_id, sent_at, id, user_id, content) VALUES (?, ?, ?, ?, ?)`,
      [conversationId, sentAt, id, userId, content],
      { prepare: true },
    );
    return { id, conversation_id: conversationId, user_id: userId, content, sent_at: fromMicros(sentAt) };
  }

  /// The newest messages of a conversation, and the cursor of the next page.
  async list(conversationId: string): Promise<Page<MessageView>> {
    const result = await this.cassandra.execute(
      `SELECT conversation_id, sent_at, id, user_id, content FROM ${MESSAGES_TABLE}
       WHERE conversation_id = ? ORDER BY sent_at DESC, id DESC LIMIT ?`,
      [conversationId, PAGE_SIZE + 1],
      { prepare: true },
    );
    const rows = result.rows.slice(0, PAGE_SIZE);
    const last = rows[rows.length - 1];
    const more = result.rows.length > PAGE_SIZE;
    return {
      items: rows.map((row) => ({
        id: row.id.toString(),
        conversation_id: row.conversation_id.toString(),
        user_id: row.user_id.toString(),
        content: row.content,
        sent_at: fromMicros(BigInt(row.sent_at)),
      })),
      next_cursor: more ? messagesCursor(conversationId, BigInt(last.sent_at), last.id.toString()) : null,
    };
  }
}

function text(body: Record<string, unknown>, field: string): string {
  const value = body?.[field];
  if (typeof value !== 'string') {
    throw invalid(`${field} must be a string`);
  }
  return value;
}

function checkedContent(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(value)) {
    throw invalid('content must not contain control characters other than tabs and line breaks');
  }
  const trimmed = value.trim();
  if (trimmed.length === 0) {
    throw invalid('content must not be empty');
  }
  if ([...trimmed].length > MAX_CONTENT_CHARS) {
    throw invalid(`content must be at most ${MAX_CONTENT_CHARS} characters`);
  }
  return trimmed;
}
