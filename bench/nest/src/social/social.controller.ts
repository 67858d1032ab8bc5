import { Controller, Get, Param } from '@nestjs/common';
import { parseId } from '../common/errors';
import { Page } from '../messages/messages.service';
import { SocialService, SuggestionView } from './social.service';

@Controller('users')
export class SocialController {
  constructor(private readonly social: SocialService) {}

  @Get(':id/friends/suggestions')
  suggestions(@Param('id') id: string): Promise<Page<SuggestionView>> {
    return this.social.suggestions(parseId('user id', id));
  }
}
