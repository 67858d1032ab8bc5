import { Controller, Get, Param, Post, Res, UploadedFile, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { Response } from 'express';
import { invalid } from '../common/errors';
import { FileView, StorageService } from './storage.service';

@Controller('storage')
export class StorageController {
  constructor(private readonly storage: StorageService) {}

  @Post('upload')
  @UseInterceptors(FileInterceptor('file'))
  async upload(
    @UploadedFile() file: Express.Multer.File | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<FileView> {
    if (!file) {
      throw invalid('the form has no field named file');
    }
    if (file.size === 0) {
      throw invalid('the file is empty');
    }
    const stored = await this.storage.upload(
      file.originalname,
      file.mimetype || 'application/octet-stream',
      file.buffer,
    );
    response.status(201).setHeader('location', `/storage/download/${stored.filename}`);
    return stored;
  }

  @Get('download/:filename')
  async download(@Param('filename') filename: string, @Res() response: Response) {
    const file = await this.storage.download(filename);
    response.setHeader('content-type', file.contentType);
    response.setHeader('content-length', file.size);
    response.setHeader('content-disposition', `attachment; filename*=UTF-8''${filename}`);
    file.body.pipe(response);
  }
}
