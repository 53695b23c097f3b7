import {
  DriverLoadError,
  InterruptedError,
  PlanError,
  RunLockedError,
  ServiceFailedError,
  UsageError,
} from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeOfError } from './exit-codes.js';

describe('exit statuses of errors', () => {
  it('maps each class of cloudboot error to its status, and anything else to internal', () => {
    expect(
      [
        new UsageError('bad option'),
        new PlanError([{ file: '/p/top.conf', message: 'broken' }]),
        new RunLockedError('demo', 'pid 1'),
        new DriverLoadError('cannot load driver'),
        new ServiceFailedError('web', 'ready', 'exit 1'),
        new InterruptedError('the boot of run demo was interrupted'),
        new Error('a bug'),
      ].map(exitCodeOfError),
    ).toEqual([
      EXIT.usage,
      EXIT.usage,
      EXIT.run,
      EXIT.driverLoad,
      EXIT.serviceFailed,
      EXIT.interrupted,
      EXIT.internal,
    ]);
    expect(EXIT.interrupted).toBe(130);
  });
});
