# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftHttp - helpers for the HTTP endpoint's TAP tests: a cluster with the
endpoint on, raw HTTP requests, an HAProxy in front of the nodes, and a
client that writes through it.

=head1 SYNOPSIS

  use RaftHttp;

  my @nodes = RaftHttp::create_cluster(3);       # ->{http_port} on each
  my ($status, $headers, $body, $closed) = RaftHttp::request($port, "GET /primary HTTP/1.1\r\nHost: x\r\n\r\n");
  my $code = RaftHttp::get_status($port, '/primary');
  my $proxy = RaftHttp::start_haproxy(\@nodes);       # ->{port}
  my $writer = RaftHttp::start_proxy_writer($proxy->{port});
  RaftHttp::stop_proxy_writer($writer);
  RaftHttp::stop_haproxy($proxy);

=cut

package RaftHttp;

use strict;
use warnings;

use IO::Socket::INET;
use IO::Handle;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftFailover;
use Time::HiRes qw(time usleep);

=pod

=head1 FUNCTIONS

=over

=item create_cluster($n, %opts)

RaftFailover::create_cluster($n, %opts) with the HTTP endpoint on every
node, on 127.0.0.1 and a free port of its own, kept in the node's
{http_port}.  The per-node conf option is taken by the endpoint's settings
(extra_conf still goes to every node).  Returns the nodes.

=cut

sub create_cluster
{
	my ($n, %opts) = @_;
	my %port = map { $_ => PostgreSQL::Test::Cluster::get_free_port() } 1 .. $n;
	my @nodes = RaftFailover::create_cluster($n, %opts,
		conf => {
			map {
				$_ => "raft_ext.http_port = $port{$_}\n"
				  . "raft_ext.http_listen_addresses = '127.0.0.1'\n"
			} 1 .. $n
		});
	$nodes[$_]->{http_port} = $port{ $_ + 1 } for 0 .. $#nodes;
	return @nodes;
}

=item request($port, $bytes, %opts)

Send $bytes to 127.0.0.1:$port and read until the server closes (or
timeout => seconds, default 15, passes).  from => '127.0.0.2' connects from
that source address (all of 127/8 is local), as a second client would.
Returns (status code or undef, headers text, body, whether the server
closed the connection).

=cut

sub request
{
	my ($port, $bytes, %opts) = @_;
	my $sock = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $port,
		Proto => 'tcp',
		(defined $opts{from} ? (LocalAddr => $opts{from}) : ()),
		Timeout => 5) or return (undef, '', '', 0);
	$sock->autoflush(1);
	print $sock $bytes;
	my $deadline = time() + ($opts{timeout} // 15);
	my ($data, $closed) = ('', 0);
	my $sel = '';
	vec($sel, fileno($sock), 1) = 1;
	while (time() < $deadline)
	{
		my $rin = $sel;
		next unless select($rin, undef, undef, 0.2);
		my $n = sysread($sock, my $chunk, 65536);
		if (!$n)
		{
			$closed = 1;
			last;
		}
		$data .= $chunk;
		# Kept alive: stop once the whole answer is here.  An answer that
		# says "Connection: close" is read on to the end, to see the close.
		if ($data =~ /\r\n\r\n/ && $data =~ /Content-Length: (\d+)/i)
		{
			my $length = $1;
			my ($head, $body) = split /\r\n\r\n/, $data, 2;
			last
			  if ($head !~ /^Connection: close/mi)
			  && (length($body) >= $length || $bytes =~ /^HEAD /);
		}
	}
	close $sock;
	my ($head, $body) = split /\r\n\r\n/, $data, 2;
	my ($status) = ($head // '') =~ m{^HTTP/1\.[01] (\d{3})};
	return ($status, $head // '', $body // '', $closed);
}

=pod

=item get($port, $path, $method)

A well-formed request (GET unless $method); returns (status, body).

=cut

sub get
{
	my ($port, $path, $method) = @_;
	my ($status, $head, $body) = request($port,
		($method // 'GET') . " $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
	return ($status // 0, $body);
}

=pod

=item get_status($port, $path)

The status code of GET $path, 0 if there was no answer.

=cut

sub get_status
{
	my ($port, $path) = @_;
	my ($status) = get($port, $path);
	return $status;
}

=pod

=item wait_status($port, $path, $code)

Poll GET $path until it answers $code; returns whether it did in time.

=cut

sub wait_status
{
	my ($port, $path, $code) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		return 1 if get_status($port, $path) == $code;
		usleep(100_000);
	}
	return 0;
}

=pod

=item start_haproxy(\@nodes)

Write an HAProxy configuration (TCP mode, listening on 127.0.0.1, every
node a server checked with "option httpchk GET /primary" on its
$node->{http_port}) and start haproxy in the foreground.  Returns
{ port, pid, handle, log }.

=cut

# Every haproxy started, so that a test that dies still stops them.
my @started_proxies;
my $test_pid = $$;

sub start_haproxy
{
	my ($nodes) = @_;
	my $dir = $PostgreSQL::Test::Utils::tmp_check;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $cfg = "$dir/haproxy_$port.cfg";
	my $servers = join '',
	  map {
		sprintf("    server %s 127.0.0.1:%d check port %d\n",
			$_->name, $_->port, $_->{http_port})
	  } @$nodes;
	open(my $fh, '>', $cfg) or die "$cfg: $!";
	print $fh <<"CFG";
global
    maxconn 200

defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 1s

listen postgres_primary
    bind 127.0.0.1:$port
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 200ms fall 2 rise 1 on-marked-down shutdown-sessions
$servers
CFG
	close $fh;
	my $log = "$dir/haproxy_$port.log";
	my $handle = IPC::Run::start([ 'haproxy', '-db', '-f', $cfg ],
		'>', $log, '2>&1');
	my $proxy = { port => $port, handle => $handle, log => $log, cfg => $cfg,
		pid => $handle->{KIDS}[0]{PID} };
	push @started_proxies, $proxy;
	return $proxy;
}

END
{
	local $?;
	# Only in the test process, not in a forked client that dies.
	if ($$ == $test_pid)
	{
		for my $proxy (@started_proxies)
		{
			kill 'TERM', $proxy->{pid} if $proxy->{handle};
		}
	}
}

=pod

=item stop_haproxy($proxy)

Stop that haproxy (by its PID) and wait for it.

=cut

sub stop_haproxy
{
	my ($proxy) = @_;
	return unless $proxy->{handle};
	kill 'TERM', $proxy->{pid};
	eval { $proxy->{handle}->finish; };
	delete $proxy->{handle};
	return;
}

=pod

=item start_proxy_writer($port, %opts)

RaftFailover::start_writer through 127.0.0.1:$port (HAProxy): the same
record of acknowledged commits ("i time port", port: the server that
committed it), read with RaftFailover::acknowledged and stopped with
RaftFailover::stop_writer.  seconds => N (default 180).

=cut

sub start_proxy_writer
{
	my ($port, %opts) = @_;
	return RaftFailover::start_writer([],
		conninfo => "host=127.0.0.1 port=$port dbname=postgres connect_timeout=2",
		seconds => $opts{seconds} // 180);
}

=pod

=back

=cut

1;
