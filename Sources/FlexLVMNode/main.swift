// The node-side driver (installed as `.flexlvm-node` beside the driver file). It links
// libdevmapper and liblvm2cmd and does all LVM work in-process.
import Admin
import FlexVolume

// Admin commands (provision, volumes, doctor, install, uninstall) talk to a person; every
// other first argument is a FlexVolume operation, answered with one JSON object.
if CommandLine.arguments.count > 1 && Invocation.adminCommands.contains(CommandLine.arguments[1]) {
    AdminCommand.main()
} else {
    NodeMain.run()
}
