import FlexLVMCore
import FlexVolume
import LVM

/// The node-side operations.
struct NodeDriver {
    let configuration: Configuration
    let log: DriverLog?

    func perform(_ call: Call) throws -> Reply {
        throw FlexLVMError(.unsupported, "\(call.operation) is not available yet")
    }
}
