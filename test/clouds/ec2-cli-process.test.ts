/**
 * The `cloudboot` binary run as a user runs it, on the fake EC2: what it
 * prints on its own stderr (where the AWS SDK's process warnings go).
 */
import { spawn } from 'node:child_process';
import { runCli } from 'cloudboot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeEc2Cloud, startEc2Cloud } from '../fakes/ec2-cloud.js';
import { cliCommand, REPO_ROOT } from '../support/cli-process.js';
import { planDirs, writePlan } from '../support/plan-files.js';
import { ec2Env, ec2Profile } from './ec2-plans.js';

let cloud: FakeEc2Cloud;
const track = planDirs();

beforeAll(async () => {
  cloud = await startEc2Cloud({ addresses: ['127.0.0.1'], bootDelayMs: 50 });
});
afterAll(() => cloud?.close());

function run(args: readonly string[], env: NodeJS.ProcessEnv) {
  const [node, ...rest] = cliCommand(args);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(node ?? process.execPath, rest, { cwd: REPO_ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the cloudboot binary on EC2', () => {
  it("keeps the AWS SDK's Node version warning off stderr unless the user asks for it", async () => {
    const plan = track(
      writePlan({
        'top.conf': `[defaults]\ncloud: fake\nimage: ami-0c10dbo0700000001\nallocation: t3.micro\nlocal_exe: true\nworkdir: \${WORKDIR}\n${ec2Profile(cloud)}[runlevels]\nlevel1: l1.conf\n`,
        'l1.conf': '[svc-one]\n',
      }),
    );
    const env = ec2Env(cloud);
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const dirs = ['-d', plan.dbDir, '-q'];
    const boot = await run(['boot', plan.path('top.conf'), '-n', 'quiet', ...dirs], env);
    expect(boot.stderr).toBe('');
    expect(boot.stdout).toMatch(/^run quiet: boot ok in \S+: 1 of 1 service ready\n$/);
    expect(boot.code).toBe(0);
    // A user who set the variable otherwise gets the SDK's warning.
    const status = await run(['status', 'quiet', ...dirs], {
      ...env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false',
    });
    expect(status.code).toBe(0);
    expect(status.stderr).toContain('NodeVersionSupportWarning');
    const down = await runCli(['terminate', 'quiet', ...dirs], {
      stdout: { write: () => true },
      stderr: { write: () => true },
      env,
      cwd: plan.root,
    });
    expect(down).toBe(0);
    expect(cloud.instances().map((i) => i.state)).not.toContain('running');
  });
});
