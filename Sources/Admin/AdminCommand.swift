import ArgumentParser
import DeviceMapperQueries
import FlexLVMCore

/// `flexlvm`'s admin commands. They run in the node binary; the static driver file hands
/// them over. Their names cannot clash with FlexVolume operations.
public struct AdminCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flexlvm",
        abstract: "Admin commands of FlexLVM, the FlexVolume driver for LVM logical volumes.",
        discussion: """
            Without a subcommand below, the first argument is a FlexVolume operation (init, attach, \
            waitforattach, mountdevice, ...) as kubelet and kube-controller-manager call it.

            Example: flexlvm provision --vg kube_vg --name vol1 --size 10Gi > pv.yaml
            """,
        subcommands: [
            Provision.self, Volumes.self, Snapshot.self, Restore.self, Clone.self, Reconcile.self, Metrics.self,
            Doctor.self, Install.self, Uninstall.self, Agent.self,
        ])

    public init() {}

}

/// Node settings every admin command shares.
struct NodeOptions: ParsableArguments {
    @Option(help: "The Kubernetes node name (default: FLEXLVM_NODE_NAME, the config file, or the host name).")
    var node: String?

    func configuration() throws -> Configuration {
        var configuration = try Configuration.load()
        if let node { configuration.nodeName = node }
        return configuration
    }

    /// The settings, with libdevmapper's and liblvm2cmd's messages routed into their log.
    func configurationLoggingLibraries() throws -> Configuration {
        let configuration = try configuration()
        LibraryMessages.install(log: DriverLog(path: configuration.logFile))
        return configuration
    }
}

/// An admin command's failure: its message is printed without a stack trace.
struct AdminFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, turning FlexLVM errors into plain messages.
func admin<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as FlexLVMError {
        throw AdminFailure("\(error)")
    }
}
