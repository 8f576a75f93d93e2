// Integration tier: runs as root inside the real-kernel guest (scripts/vm-run), against
// real LVM on loop-file PVs. `flexlvm-integration --list` names the tests; `--filter TEXT`
// runs those whose name contains TEXT.
IntegrationRunner.main(CommandLine.arguments)
