import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('users')
export class User {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column('text')
  email: string;

  // Read as PostgreSQL's text (see common/timestamps.ts), to keep microseconds.
  @Column('timestamptz')
  created_at: string;
}
