// The node-side driver (installed as `.flexlvm-node` beside the driver file). It links
// libdevmapper and liblvm2cmd and does all LVM work in-process.
import FlexLVMCore
import FlexVolume
import LVM

NodeMain.run()
