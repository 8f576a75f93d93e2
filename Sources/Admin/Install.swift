import ArgumentParser
import FlexLVMCore
import FlexVolume

#if canImport(Glibc)
    import Glibc
#endif

/// The plugin dir kubelet and KCM use by default.
let defaultPluginDir = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec"

/// The installed layout: `<plugin dir>/flexlvm~lvm/lvm` and `.flexlvm-node` beside it.
struct PluginLayout {
    let pluginDir: String
    var driverDir: String { Paths.join(pluginDir, KubeletPaths.pluginDirectoryName) }
    var driverFile: String { Paths.join(driverDir, KubeletPaths.driver) }
    var nodeBinary: String { Paths.join(driverDir, ".flexlvm-node") }
}

/// `flexlvm install`: installs the driver files atomically into a plugin dir.
struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install the driver into kubelet's (or KCM's) FlexVolume plugin dir.",
        discussion: """
            Each file is written under a dot-name (ignored by kubelet's prober), synced, and renamed \
            into place; the node binary first, the driver file last, so a probe never runs a \
            half-written file.

            Example: flexlvm install --plugin-dir /etc/kubernetes/kubelet-plugins/volume/exec   # OpenShift
            """)

    @Option(help: "The FlexVolume plugin dir.") var pluginDir: String = defaultPluginDir

    func run() throws {
        try admin {
            let layout = try PluginLayout.install(into: pluginDir)
            print("installed \(layout.driverFile) and \(layout.nodeBinary) (driver flexlvm/lvm)")
        }
    }
}

extension PluginLayout {
    /// Installs this node binary and the driver file beside it into `pluginDir`, atomically:
    /// each file under a dot-name, synced and renamed into place, the node binary first.
    static func install(into pluginDir: String) throws -> PluginLayout {
        guard pluginDir.hasPrefix("/") else {
            throw FlexLVMError(.invalidArgument, "--plugin-dir must be absolute")
        }
        guard let node = Paths.currentExecutable() else {
            throw FlexLVMError(.internalError, "cannot read /proc/self/exe")
        }
        let here = Paths.directory(of: node)
        guard
            let driver = [KubeletPaths.driver, "flexlvm"].map({ Paths.join(here, $0) }).first(where: Files.exists)
        else {
            throw FlexLVMError(.notFound, "no driver file (lvm or flexlvm) beside \(node) to install")
        }
        let layout = PluginLayout(pluginDir: pluginDir)
        try Files.makeDirectories(layout.driverDir, mode: 0o755)
        try Files.writeAtomically(layout.nodeBinary, try Files.read(node, limit: 512 << 20), mode: 0o755)
        try Files.writeAtomically(layout.driverFile, try Files.read(driver, limit: 512 << 20), mode: 0o755)
        return layout
    }
}

/// `flexlvm uninstall`: removes the driver files from a plugin dir.
struct Uninstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove the driver from a FlexVolume plugin dir.",
        discussion: "Example: flexlvm uninstall --plugin-dir /usr/libexec/kubernetes/kubelet-plugins/volume/exec")

    @Option(help: "The FlexVolume plugin dir.") var pluginDir: String = defaultPluginDir

    func run() throws {
        try admin {
            let layout = PluginLayout(pluginDir: pluginDir)
            for path in [layout.driverFile, layout.nodeBinary] where Files.exists(path) {
                _ = try systemCall("unlink", path) { unlink(path) }
            }
            if Files.exists(layout.driverDir) {
                _ = try systemCall("rmdir", layout.driverDir) { rmdir(layout.driverDir) }
            }
            print("removed \(layout.driverDir)")
        }
    }
}
