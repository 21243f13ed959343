# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftDebian - clusters laid out and run the Debian way (postgresql-common) in a test's own directories

=head1 SYNOPSIS

  use RaftDebian;

  my $why = RaftDebian::unavailable();
  plan skip_all => $why if $why;
  my $deb = RaftDebian->new;
  my $confdir = $deb->create('t059_node1', datadir => $dir, port => $port,
      socketdir => $sock, logfile => $log);
  $deb->ctl('t059_node1', 'start');
  like($deb->status('t059_node1'), qr/^online/);

=head1 DESCRIPTION

postgresql-common keeps each cluster's configuration in
/etc/postgresql/<version>/<name>/; a test points it at a stand-in inside
tmp_check instead (PG_CLUSTER_CONF_ROOT, set for every tool run through
this module and for the whole test: the rejoin helper and pg_ctlcluster
started by the servers must find the same root).  Clusters are made with
the test's own createcluster.conf: Debian's defaults without what reaches
outside the test (ssl with the system's snakeoil certificate, the
system-wide createcluster.d).  The conf root is removed when the test ends;
stopping the servers is the test's business.

=cut

package RaftDebian;

use strict;
use warnings;

use File::Path qw(rmtree);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my @roots;

=pod

=over

=item RaftDebian::unavailable()

Why a Debian-layout test cannot run here (postgresql-common's tools
missing, or no initdb of the TAP installation's major version where
pg_createcluster looks for it), or undef.

=cut

sub unavailable
{
	for my $tool (qw(pg_createcluster pg_ctlcluster pg_lsclusters))
	{
		return "postgresql-common's $tool is not installed" unless -x "/usr/bin/$tool";
	}
	my $version = version();
	return "pg_createcluster needs /usr/lib/postgresql/$version/bin/initdb"
	  unless -x "/usr/lib/postgresql/$version/bin/initdb";
	return undef;
}

=pod

=item RaftDebian::version(), RaftDebian::bindir()

The major version and bindir of the installation the TAP framework uses
(pg_config on PATH): pg_createcluster runs Debian's initdb of that
version, pg_ctlcluster the framework's pg_ctl (--bindir).

=cut

sub version
{
	my ($v) = run_command([ 'pg_config', '--version' ]);
	return ($v =~ /(\d+)/)[0];
}

sub bindir
{
	my ($b) = run_command([ 'pg_config', '--bindir' ]);
	chomp $b;
	return $b;
}

=pod

=item RaftDebian->new

A conf root (and a directory for the external PID files) inside the
test's tmp_check, with its createcluster.conf.

=cut

sub new
{
	my ($class) = @_;
	my $root = PostgreSQL::Test::Utils::tempdir('debian_etc');
	die "conf root $root is outside $PostgreSQL::Test::Utils::tmp_check"
	  unless index($root, $PostgreSQL::Test::Utils::tmp_check) == 0;
	$ENV{PG_CLUSTER_CONF_ROOT} = $root;
	my $self = bless {
		root => $root,
		piddir => PostgreSQL::Test::Utils::tempdir('debian_run'),
		version => version(),
		bindir => bindir(),
	}, $class;
	PostgreSQL::Test::Utils::append_to_file("$root/createcluster.conf",
		    "ssl = off\n"
		  . "cluster_name = '%v/%c'\n"
		  . "log_line_prefix = '%%m [%%p] %%q%%u@%%d '\n"
		  . "add_include_dir = 'conf.d'\n");
	push @roots, $self;
	return $self;
}

sub root { return $_[0]{root}; }
sub piddir { return $_[0]{piddir}; }
sub confdir { my ($self, $name) = @_; return "$self->{root}/$self->{version}/$name"; }

=pod

=item $deb->run(@cmd)

Run a postgresql-common tool with the test's conf root; returns (ok,
stdout, stderr) and notes what it printed.

=cut

sub run
{
	my ($self, @cmd) = @_;
	local $ENV{PG_CLUSTER_CONF_ROOT} = $self->{root};
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout(2 * $PostgreSQL::Test::Utils::timeout_default));
	};
	$err .= $@ if $@;
	note(join(' ', @cmd) . ($ok ? '' : ' FAILED') . ": $out$err");
	return ($ok ? 1 : 0, $out, $err);
}

=pod

=item $deb->create($name, datadir => D, port => P, socketdir => S, logfile => L)

pg_createcluster <version> $name with those; its external_pid_file in the
test's PID directory.  Returns the cluster's configuration directory, or
undef if it failed.

=cut

sub create
{
	my ($self, $name, %o) = @_;
	my ($ok) = $self->run(
		'/usr/bin/pg_createcluster',
		'--createclusterconf', "$self->{root}/createcluster.conf",
		'--datadir', $o{datadir},
		'--socketdir', $o{socketdir},
		'--port', $o{port},
		'--logfile', $o{logfile},
		'--pgoption', "external_pid_file=$self->{piddir}/$name.pid",
		$self->{version}, $name);
	my $dir = $self->confdir($name);
	return $ok && -f "$dir/postgresql.conf" ? $dir : undef;
}

=pod

=item $deb->ctl($name, $action)

pg_ctlcluster <version> $name $action with the framework's pg_ctl; true if
it succeeded.

=cut

sub ctl
{
	my ($self, $name, $action) = @_;
	my ($ok) = $self->run('/usr/bin/pg_ctlcluster', '--bindir', $self->{bindir},
		$self->{version}, $name, $action);
	return $ok;
}

=pod

=item $deb->status($name)

The Status column of pg_lsclusters for $name ("online",
"online,recovery", "down"), or '' when it does not list it.

=back

=cut

sub status
{
	my ($self, $name) = @_;
	my (undef, $out) = $self->run('/usr/bin/pg_lsclusters', $self->{version}, $name);
	return $out =~ /^\Q$self->{version}\E\s+\Q$name\E\s+\d+\s+(\S+)/m ? $1 : '';
}

END
{
	my $rc = $?;
	for my $self (@roots)
	{
		for my $dir ($self->{root}, $self->{piddir})
		{
			rmtree($dir) if defined $dir && -d $dir;
		}
	}
	$? = $rc;
}

1;
