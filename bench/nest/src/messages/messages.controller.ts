import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { parseId } from '../common/errors';
import { MessagesService, MessageView, Page } from './messages.service';

@Controller('messages')
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Post()
  @HttpCode(201)
  send(@Body() body: Record<string, unknown>): Promise<MessageView> {
    return this.messages.send(body);
  }

  @Get(':conversationId')
  list(@Param('conversationId') conversationId: string): Promise<Page<MessageView>> {
    return this.messages.list(parseId('conversation id', conversationId));
  }
}
