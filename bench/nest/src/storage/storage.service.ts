import { Inject, Injectable } from '@nestjs/common';
import { Client } from 'minio';
import { Readable } from 'node:stream';
import { MINIO } from '../clients';
import { notFound } from '../common/errors';
import { fromMicros } from '../common/timestamps';
import { config, NAMESPACE } from '../config';

export interface FileView {
  filename: string;
  size: number;
  content_type: string;
  uploaded_at: string;
}

const key = (filename: string) => `${NAMESPACE}/files/${filename}`;

@Injectable()
export class StorageService {
  constructor(@Inject(MINIO) private readonly minio: Client) {}

  async upload(filename: string, contentType: string, body: Buffer): Promise<FileView> {
    await this.minio.putObject(config.storage.bucket, key(filename), body, body.length, {
      'Content-Type': contentType,
    });
    return {
      filename,
      size: body.length,
      content_type: contentType,
      uploaded_at: fromMicros(BigInt(Date.now()) * 1000n),
    };
  }

  async download(filename: string): Promise<{ size: number; contentType: string; body: Readable }> {
    try {
      const stat = await this.minio.statObject(config.storage.bucket, key(filename));
      const body = await this.minio.getObject(config.storage.bucket, key(filename));
      const contentType = stat.metaData['content-type'] ?? 'application/octet-stream';
      return { size: stat.size, contentType, body };
    } catch (error) {
      if ((error as { code?: string }).code === 'NotFound' || (error as { code?: string }).code === 'NoSuchKey') {
        throw notFound(`no file named ${filename}`);
      }
      throw error;
    }
  }
}
