package My::Suite::Queue;
@ISA = qw(My::Suite);

# The suite runs on the installed server with the plugin from the build
# directory (scripts/mtr.sh exports QUEUE_PLUGIN_DIR). Returning a string
# skips the suite; scripts/mtr.sh treats any skip as a failure.
use File::Basename qw(dirname);
use Cwd qw(abs_path);
my $src = $ENV{QUEUE_SOURCE_DIR} || dirname(dirname(dirname(abs_path(__FILE__))));
my $dir = $ENV{QUEUE_PLUGIN_DIR} || "$src/build/plugin";
return "No ha_queue.so in $dir" unless -f "$dir/ha_queue.so";
$ENV{QUEUE_PLUGIN_DIR} = $dir;
$ENV{HA_QUEUE_SO}      = "ha_queue.so";
# A Go fatal error inside mariadbd aborts with a core instead of exit(2).
$ENV{GOTRACEBACK}      = "crash";

# SQL that creates / drops the SQL functions ha_queue.so exports, from the
# one list in scripts/functions.list (tests: --source $QUEUE_CREATE_FUNCTIONS).
my $out = "$src/build/mtr";
system("mkdir", "-p", $out);
my $create = `"$src/scripts/install-sql.sh" --functions-only "$dir/ha_queue.so"`;
my $drop   = `"$src/scripts/install-sql.sh" --uninstall "$dir/ha_queue.so" | grep '^DROP FUNCTION'`;
for ([ "create_functions.inc", $create ], [ "drop_functions.inc", $drop ]) {
  open(my $fh, '>', "$out/$_->[0]") or return "cannot write $out/$_->[0]";
  print $fh "--disable_query_log\n", $_->[1], "--enable_query_log\n";
  close($fh);
}
$ENV{QUEUE_CREATE_FUNCTIONS} = "$out/create_functions.inc";
$ENV{QUEUE_DROP_FUNCTIONS}   = "$out/drop_functions.inc";

sub is_default { 0 }
bless { };
