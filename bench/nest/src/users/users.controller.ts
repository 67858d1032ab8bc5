import { Controller, Get, Param, Res } from '@nestjs/common';
import { Response } from 'express';
import { parseId } from '../common/errors';
import { UsersService, UserView } from './users.service';

@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get(':id')
  async findOne(@Param('id') id: string, @Res({ passthrough: true }) response: Response): Promise<UserView> {
    const { user, cached } = await this.users.findOne(parseId('user id', id));
    response.setHeader('x-cache', cached ? 'hit' : 'miss');
    return user;
  }
}
