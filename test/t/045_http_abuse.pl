# Copyright: the raft_ext authors.

# The HTTP endpoint under abuse (issue 18, item 4).  One address
# (127.0.0.1) keeps 300 connections to the primary's endpoint, each sending
# one byte of an unfinished request header a second, reopening any the
# server closes, for 20 s; meanwhile a second address (127.0.0.2) probes
# /health and /primary every 200 ms:
#  1. every probe is answered 200 within 1 s;
#  2. of the abuser's first 300 connections the server keeps at most the
#     per-address limit (RAFT_HTTP_MAX_CONNECTIONS_PER_ADDRESS, 20) and
#     closes the rest at once;
#  3. the ones it keeps are closed at the request deadline
#     (RAFT_HTTP_REQUEST_DEADLINE_MS, 3 s) although they never fall silent:
#     none stays open much longer;
#  4. the Raft leader and term do not change;
#  5. once the abuse stops, requests from the abuser's address work again.

use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use RaftHttp;
use Test::More;
use Time::HiRes qw(time);

# src/http.h.
my $per_address = 20;
my $deadline = 3;

my $abusers = 300;
my $abuse_seconds = 20;
my $probe_every = 0.2;
# Slack for noticing a close on a loaded machine (the loop polls every 50 ms).
my $slack = 2;

my @nodes = RaftHttp::create_cluster(3);
my ($leader) = RaftFailover::wait_primary(\@nodes);
is($leader->name, 'node1', 'node1 is the primary and leads');
my $port = $leader->{http_port};
ok(RaftHttp::wait_status($port, '/primary', 200), 'node1 answers /primary with 200');
my $before = RaftTest::status($leader);

# A refused socket written to would raise SIGPIPE.
local $SIG{PIPE} = 'IGNORE';

# The header never ends: no request is ever complete.
my $header = "GET /primary HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " . ('a' x 100);

my %open;            # fileno => { sock, opened, sent, next_byte, first_wave }
my @reopen_at;       # times at which to open a replacement connection
my @closed;          # connections the server closed: [lifetime, bytes sent, first_wave]
my ($opened, $connect_failed) = (0, 0);

# Open one trickling connection from 127.0.0.1 and send its first byte.
sub open_abuser
{
	my ($first_wave) = @_;
	my $sock = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $port,
		LocalAddr => '127.0.0.1',
		Proto => 'tcp',
		Timeout => 2);
	if (!$sock)
	{
		$connect_failed++;
		push @reopen_at, time() + 1;
		return;
	}
	$sock->blocking(0);
	$opened++;
	$open{ fileno($sock) } = {
		sock => $sock,
		opened => time(),
		sent => 0,
		next_byte => time(),
		first_wave => $first_wave
	};
	return;
}

# The server closed (or reset) $fd: note it, replace it a second later.
sub server_closed
{
	my ($fd) = @_;
	my $c = delete $open{$fd};
	push @closed, [ time() - $c->{opened}, $c->{sent}, $c->{first_wave} ];
	close $c->{sock};
	push @reopen_at, time() + 1;
	return;
}

my @probes;    # [path, status, seconds]
my $start = time();
open_abuser(1) for 1 .. $abusers;
my $wave_opened = time();
my $first_wave_left;
my $next_probe = time();
my $probe_index = 0;

while (time() < $start + $abuse_seconds)
{
	# Closes by the server.
	my $rin = '';
	vec($rin, $_, 1) = 1 for keys %open;
	if (select(my $rout = $rin, undef, undef, 0.05) > 0)
	{
		for my $fd (keys %open)
		{
			next unless vec($rout, $fd, 1);
			my $n = sysread($open{$fd}{sock}, my $buf, 4096);
			next if !defined $n && $!{EAGAIN};
			# An answer would need a complete request; anything else
			# read is an error page, after which the server closes too.
			server_closed($fd) if !$n;
		}
	}

	# One more byte on every connection that is due.
	my $now = time();
	for my $fd (keys %open)
	{
		my $c = $open{$fd};
		next if $c->{next_byte} > $now;
		my $w = syswrite($c->{sock}, substr($header, $c->{sent} % length($header), 1));
		if (!defined $w && !$!{EAGAIN})
		{
			server_closed($fd);
			next;
		}
		$c->{sent}++ if $w;
		$c->{next_byte} += 1;
	}

	# The per-address limit: the first wave, well before its deadline.
	if (!defined $first_wave_left && time() >= $wave_opened + 1.5)
	{
		$first_wave_left = grep { $_->{first_wave} } values %open;
	}

	# Replacements.
	my @due = grep { $_ <= time() } @reopen_at;
	@reopen_at = grep { $_ > time() } @reopen_at;
	open_abuser(0) for @due;

	# A probe from the second address.
	if (time() >= $next_probe)
	{
		my $path = $probe_index++ % 2 ? '/primary' : '/health';
		my $t0 = time();
		my ($status) = RaftHttp::request($port,
			"GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
			from => '127.0.0.2',
			timeout => 5);
		push @probes, [ $path, $status // 0, time() - $t0 ];
		$next_probe = time() + $probe_every;
	}
}

# Connections still open now must be young ones.
my $oldest_open = 0;
for my $c (values %open)
{
	my $age = time() - $c->{opened};
	$oldest_open = $age if $age > $oldest_open;
}
close $_->{sock} for values %open;
%open = ();

# 1. The probes.
my @bad = grep { $_->[1] != 200 } @probes;
my @slow = grep { $_->[2] >= 1 } @probes;
my ($max_latency) = sort { $b <=> $a } map { $_->[2] } @probes;
cmp_ok(scalar @probes, '>=', $abuse_seconds / $probe_every / 2,
	'the second address probed throughout (' . scalar(@probes) . ' probes)');
is(scalar @bad, 0, 'every probe from 127.0.0.2 was answered 200')
  or diag(join "\n", map { "$_->[0]: $_->[1] after $_->[2] s" } @bad);
is(scalar @slow, 0, 'every probe was answered within 1 s')
  or diag(join "\n", map { "$_->[0]: $_->[1] after $_->[2] s" } @slow);
note(sprintf('probe latency under abuse: max %.3f s over %d probes', $max_latency, scalar @probes));

# 2. The per-address limit.
ok(defined $first_wave_left, 'the first wave was counted');
cmp_ok($first_wave_left, '<=', $per_address,
	"of the first $abusers connections at most $per_address were kept ($first_wave_left)");
my $refused = grep { $_->[0] < $deadline - 1 } @closed;
cmp_ok($refused, '>=', $abusers - $per_address,
	"connections beyond the limit were closed at once ($refused)");

# 3. The deadline.
my $at_deadline = grep { $_->[1] >= $deadline } @closed;
cmp_ok($at_deadline, '>=', $per_address,
	"kept connections that trickled $deadline or more bytes were closed by the server ($at_deadline)");
my ($longest) = sort { $b <=> $a } 0, map { $_->[0] } @closed;
cmp_ok($longest, '<', $deadline + $slack,
	sprintf('no trickling connection lived past the deadline (longest %.2f s)', $longest));
cmp_ok($oldest_open, '<', $deadline + $slack,
	sprintf('none open at the end was older either (%.2f s)', $oldest_open));
note("abuser connections opened: $opened, connects that failed: $connect_failed, "
	  . "closed by the server: " . scalar(@closed) . ", at once: $refused, at the deadline: $at_deadline");
is(scalar keys %open, 0, 'every abuser socket is closed');

# 4. Raft did not notice.
for my $node (@nodes)
{
	my $st = RaftTest::status($node);
	is("$st->{term}/$st->{leader_id}", "$before->{term}/1",
		$node->name . ': same term and leader throughout');
}

# 5. After the abuse, the abuser's address is served again.
ok(RaftHttp::wait_status($port, '/primary', 200), 'after the abuse, /primary answers 127.0.0.1');
is(RaftHttp::get_status($port, '/health'), 200, '... and /health too');

$_->stop for @nodes;
done_testing();
