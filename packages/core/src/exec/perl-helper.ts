/**
 * The Perl helper: one process that forks each program itself, puts it in a
 * process group of its own (so a timeout can kill the whole group; the
 * helper has no controlling terminal, so neither has the program), execs it,
 * and reaps whichever child ends (`waitpid(-1)` on SIGCHLD). A program costs
 * one fork (of a small process) and its own exec: no waiting subshell and no
 * `setsid` executable, which is most of what the `/bin/sh` helper spends
 * beyond the program. The helper loads no module but Fcntl: every page it
 * holds makes each fork dearer. Perl is part of every Debian and Ubuntu
 * system (`perl-base` is essential), and of most others; where it is missing
 * or cannot start, the `/bin/sh` helper takes over.
 *
 * Jobs arrive on stdin as NUL-terminated fields (NUL cannot occur in a path,
 * an argument or the environment): id, working directory, stdout file,
 * stderr file, the number of `NAME=value` variables and those, the number of
 * argv words and those. The helper says `ready` when it has started, then
 * `ID pid N` when a job starts and `ID exit STATUS O E` when it ends
 * (STATUS is 128 + the signal for a killed program, as a shell says; O and E
 * are 1 for a non-empty output file).
 */
import type { HelperDialect, HelperJob } from './helper-spawner.js';

/**
 * SIGCHLD is handled between Perl ops: a child that ends just before
 * `select` blocks is seen at the next wake-up. That is bounded by the
 * select timeout while any job runs.
 */
const SCRIPT = String.raw`
use strict;
use warnings;
use Fcntl ();
pipe(my $wake_r, my $wake_w) or die "pipe: $!\n";
fcntl($wake_w, Fcntl::F_SETFL(), Fcntl::O_NONBLOCK()) or die "fcntl: $!\n";
# WNOHANG from sys/wait.h: 1 on Linux, the BSDs and macOS.
sub WNOHANG () { 1 }
$SIG{CHLD} = sub { syswrite($wake_w, 'x') };
$| = 1;
print "ready\n";
my $buf = '';
my @fields;
my %jobs;
sub start {
  my ($id, $cwd, $out, $err, $env, $argv) = @_;
  my $pid = fork();
  if (!defined $pid) { print "$id exit 126 0 0\n"; return; }
  if ($pid == 0) {
    $SIG{CHLD} = 'DEFAULT';
    setpgrp(0, 0);
    open(STDIN, '<', '/dev/null') or exit(126);
    open(STDOUT, '>', $out) or exit(126);
    open(STDERR, '>', $err) or exit(126);
    if (!chdir($cwd)) { print STDERR "cd: $cwd: $!\n"; exit(126); }
    for (@$env) { my ($name, $value) = split(/=/, $_, 2); $ENV{$name} = $value; }
    { no warnings 'exec'; exec { $argv->[0] } @$argv; }
    print STDERR "$argv->[0]: $!\n";
    exit($!{ENOENT} ? 127 : 126);
  }
  $jobs{$pid} = [$id, $out, $err];
  print "$id pid $pid\n";
}
sub take {
  while (@fields >= 6) {
    my $argc_at = 5 + $fields[4];
    return if @fields <= $argc_at;
    my $end = $argc_at + $fields[$argc_at];
    return if @fields <= $end;
    my @job = splice(@fields, 0, $end + 1);
    start(@job[0 .. 3], [@job[5 .. $argc_at - 1]], [@job[$argc_at + 1 .. $end]]);
  }
}
sub reap {
  while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
    my $job = delete $jobs{$pid} or next;
    my $status = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    my $o = -s $job->[1] ? 1 : 0;
    my $e = -s $job->[2] ? 1 : 0;
    print "$job->[0] exit $status $o $e\n";
  }
}
while (1) {
  my $wanted = '';
  vec($wanted, fileno(STDIN), 1) = 1;
  vec($wanted, fileno($wake_r), 1) = 1;
  my $n = select(my $ready = $wanted, undef, undef, %jobs ? 0.05 : undef);
  sysread($wake_r, my $drained, 4096) if $n > 0 && vec($ready, fileno($wake_r), 1);
  reap();
  next unless $n > 0 && vec($ready, fileno(STDIN), 1);
  my $got = sysread(STDIN, $buf, 65536, length $buf);
  next if !defined $got && $!{EINTR};
  exit 0 if !$got;
  my $last = rindex($buf, "\0");
  next if $last < 0;
  push @fields, $last == 0 ? ('') : split(/\0/, substr($buf, 0, $last), -1);
  $buf = substr($buf, $last + 1);
  take();
}
`;

/** The job's fields for the helper's stdin. */
function encode(id: number, job: HelperJob): string {
  const { request } = job;
  const env = Object.entries(request.env ?? {}).map(([name, value]) => `${name}=${value}`);
  const argv = [request.program, ...request.args];
  const fields = [String(id), request.cwd, job.out, job.err, String(env.length), ...env];
  fields.push(String(argv.length), ...argv);
  return `${fields.join('\0')}\0`;
}

/** The Perl helper; see the module comment. */
export const PERL_HELPER: HelperDialect = {
  name: 'perl',
  command: ['perl', '-e', SCRIPT],
  requires: ['perl'],
  saysReady: true,
  encode,
};
