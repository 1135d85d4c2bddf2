// The indexer end of the enforcement channel: signs commands and queues each on its host's queue.
// A command's id comes from its alert, so a retried batch queues nothing twice (BullMQ job ids).
import crypto, { type KeyObject } from 'node:crypto';
import { Queue } from 'bullmq';
import type IORedis from 'ioredis';
import { commandQueueName, QUEUE_PREFIX } from '../../../contract/src/queue';
import { type CommandBody, COMMAND_VERSION, signCommand } from '../../../contract/src/command';

export type CommandRequest = Omit<CommandBody, 'v' | 'nonce' | 'iat' | 'exp' | 'id'> & { idSeed: string };

export class CommandSender {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: IORedis,
    private readonly key: KeyObject,
    /** How long a command stays valid. @defaultValue 60000 */
    private readonly lifetimeMs = 60_000,
  ) {}

  /** Signs and queues; resolves with the body once Redis holds it. */
  async send(req: CommandRequest): Promise<CommandBody> {
    const { idSeed, ...rest } = req;
    const now = Date.now();
    const body: CommandBody = {
      v: COMMAND_VERSION,
      id: crypto.createHash('sha256').update(`${req.type}\0${idSeed}`).digest('hex').slice(0, 32),
      nonce: crypto.randomBytes(16).toString('hex'),
      iat: now,
      exp: now + this.lifetimeMs,
      ...rest,
    };
    const name = commandQueueName(body.host);
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: QUEUE_PREFIX });
      q.on('error', () => undefined);
      this.queues.set(name, q);
    }
    // Kept an hour after completion: the job id refuses a second copy from a retried batch meanwhile.
    await q.add(body.type, signCommand(body, this.key), { jobId: body.id, removeOnComplete: { age: 3600 }, removeOnFail: { age: 86_400 } });
    return body;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
  }
}
