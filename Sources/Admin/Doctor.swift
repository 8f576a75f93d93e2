import ArgumentParser
import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import LVM

#if canImport(Glibc)
    import Glibc
#endif

/// `flexlvm doctor`: checks the node and says what to fix.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check this node for FlexLVM and say what to fix.",
        discussion: """
            Exits non-zero when something blocks operation.

            Example: flexlvm doctor --plugin-dir /usr/libexec/kubernetes/kubelet-plugins/volume/exec
            """)

    @Option(help: "table (for people) or json.") var output: OutputFormat = .table
    @Option(help: "The FlexVolume plugin dir to check.") var pluginDir: String = defaultPluginDir
    @Option(help: "Warn when a thin pool's data or metadata use passes this percentage.")
    var thinPoolThreshold: Double = 80
    @OptionGroup var nodeOptions: NodeOptions

    /// One check's outcome.
    struct Check {
        enum Status: String { case ok, warning, fail }
        var name: String
        var status: Status
        var detail: String
        var fix: String = ""
    }

    func run() throws {
        let checks = try admin { try runChecks() }
        switch output {
        case .json:
            let items = checks.map { check in
                JSONWriter.object([
                    ("name", JSONWriter.string(check.name)), ("status", JSONWriter.string(check.status.rawValue)),
                    ("detail", JSONWriter.string(check.detail)), ("fix", JSONWriter.string(check.fix)),
                ])
            }
            print(
                JSONWriter.object([
                    ("ok", String(!checks.contains { $0.status == .fail })),
                    ("checks", "[" + items.joined(separator: ",") + "]"),
                ]))
        case .table:
            for check in checks {
                let mark = check.status == .ok ? "ok  " : check.status == .warning ? "warn" : "FAIL"
                print("\(mark)  \(check.name): \(check.detail)")
                if !check.fix.isEmpty && check.status != .ok { print("      fix: \(check.fix)") }
            }
        }
        if checks.contains(where: { $0.status == .fail }) { throw ExitCode(1) }
    }

    func runChecks() throws -> [Check] {
        var (configuration, problems) = Configuration.loadLeniently()
        if let node = nodeOptions.node { configuration.nodeName = node }
        LibraryMessages.install(log: nil)
        var checks: [Check] = []

        var deviceMapperWorks = false
        do {
            let version = try DeviceMapper.driverVersion()
            deviceMapperWorks = true
            checks.append(Check(name: "kernel device-mapper", status: .ok, detail: "driver \(version)"))
        } catch {
            checks.append(
                Check(
                    name: "kernel device-mapper", status: .fail, detail: "not available in this kernel (\(error))",
                    fix: "load it with 'modprobe dm-mod'; the kernel needs CONFIG_BLK_DEV_DM"))
        }
        checks += configurationChecks(configuration, problems: problems)
        checks.append(
            Check(
                name: "libdevmapper", status: .ok,
                detail: "loaded, version \((try? DeviceMapper.libraryVersion()) ?? "unknown")"))
        do {
            let lvm = try LVM()
            checks.append(Check(name: "liblvm2cmd", status: .ok, detail: "loaded, \(try lvm.version())"))
            let udevSync = try lvm.configurationValue("activation/udev_sync") ?? "?"
            let udevRunning = Files.exists("/run/udev/control")
            if udevSync.hasSuffix("1") && !udevRunning {
                checks.append(
                    Check(
                        name: "lvm.conf activation/udev_sync", status: .fail,
                        detail: "udev_sync=1 but udev is not running here",
                        fix: "run udev, or set activation { udev_sync = 0 udev_rules = 0 verify_udev_operations = 1 }"))
            } else {
                checks.append(
                    Check(
                        name: "lvm.conf activation/udev_sync", status: .ok,
                        detail: "\(udevSync) (udev \(udevRunning ? "running" : "not running"))"))
            }
            let lockd = try lvm.configurationValue("global/use_lvmlockd") ?? "?"
            checks.append(
                Check(
                    name: "lvm.conf global/use_lvmlockd", status: lockd.hasSuffix("1") ? .warning : .ok, detail: lockd,
                    fix: lockd.hasSuffix("1") ? "shared VGs need lvmlockd running; local VGs are simpler" : ""))
            for setting in ["devices/filter", "devices/global_filter"] {
                let value = (try? lvm.configurationValue(setting)) ?? nil
                checks.append(Check(name: "lvm.conf \(setting)", status: .ok, detail: value ?? "(none)"))
            }
            checks += (try? thinPoolChecks(lvm)) ?? []
        } catch {
            checks.append(
                Check(
                    name: "liblvm2cmd", status: .fail, detail: "cannot initialise (\(error))",
                    fix: "install lvm2 (liblvm2cmd 2.03) and check /etc/lvm/lvm.conf"))
        }

        for (filesystem, tools) in [
            ("ext4", ["mkfs.ext4", "resize2fs"]), ("xfs", ["mkfs.xfs", "xfs_growfs"]),
            ("btrfs", ["mkfs.btrfs", "btrfs"]),
        ] {
            let missing = tools.filter { (try? Subprocess.resolve($0)) == nil }
            checks.append(
                Check(
                    name: "\(filesystem) tools",
                    status: missing.isEmpty ? .ok : filesystem == "ext4" ? .fail : .warning,
                    detail: missing.isEmpty
                        ? tools.joined(separator: ", ") + " found" : "missing \(missing.joined(separator: ", "))",
                    fix: missing.isEmpty
                        ? ""
                        : "install \(["ext4": "e2fsprogs", "xfs": "xfsprogs", "btrfs": "btrfs-progs"][filesystem]!)"))
        }

        checks += pluginChecks()
        let nodeName = NodeIdentity.localNodeName(configuration)
        let source =
            Environment.value("FLEXLVM_NODE_NAME") != nil
            ? "FLEXLVM_NODE_NAME" : configuration.nodeName != nil ? "config file" : "host name, as kubelet's default"
        checks.append(
            Check(
                name: "node name", status: .ok, detail: "\(nodeName) (from \(source))",
                fix:
                    "it must equal the Node object's name; set FLEXLVM_NODE_NAME or nodeName if kubelet uses --hostname-override"
            ))
        for (name, path, need) in [
            ("log dir", Paths.directory(of: configuration.logFile), "the log"),
            ("state dir", configuration.stateDir, "the PV-to-LV records detach and reconcile use"),
            ("staging dir", configuration.stagingDir, "attach:false mounts"),
            ("lock dir", configuration.lockDir, "per-volume locks (a tmpfs such as /run is best)"),
        ] {
            let writable = (try? Files.makeDirectories(path, mode: 0o750)) != nil && access(path, W_OK) == 0
            checks.append(
                Check(
                    name: name, status: writable ? .ok : .fail,
                    detail: "\(path) \(writable ? "writable" : "not writable") (\(need))",
                    fix: writable
                        ? ""
                        : "the driver needs \(path) writable as root; on a read-only /var set \(name == "log dir" ? "logFile" : name == "state dir" ? "stateDir" : name == "staging dir" ? "stagingDir" : "lockDir") in the config file"
                ))
        }
        if !deviceMapperWorks, let first = checks.firstIndex(where: { $0.name == "kernel device-mapper" }) {
            checks.insert(checks.remove(at: first), at: 0)
        }
        return checks
    }

    /// Each thin pool's data and metadata use against the threshold, and whether LVM's
    /// autoextend is configured (activation/thin_pool_autoextend_threshold below 100).
    func thinPoolChecks(_ lvm: LVM) throws -> [Check] {
        let pools = try lvm.usage().filter(\.isThinPool)
        guard !pools.isEmpty else { return [] }
        let autoextend = (try? lvm.configurationValue("activation/thin_pool_autoextend_threshold")) ?? nil
        let percent = (try? lvm.configurationValue("activation/thin_pool_autoextend_percent")) ?? nil
        let threshold = autoextend.flatMap { Int($0.trimmingSpaces) } ?? 100
        let autoextendText =
            threshold < 100
            ? "LVM autoextend is configured (thin_pool_autoextend_threshold=\(threshold), "
                + "thin_pool_autoextend_percent=\(percent ?? "?"); it needs dmeventd monitoring)"
            : "LVM autoextend is off (activation/thin_pool_autoextend_threshold=\(autoextend ?? "100"))"
        return pools.map { pool in
            guard let data = pool.dataPercent, let metadata = pool.metadataPercent else {
                return Check(
                    name: "thin pool \(pool.ref)", status: .ok, detail: "inactive, use unknown; \(autoextendText)")
            }
            let full = data >= thinPoolThreshold || metadata >= thinPoolThreshold
            return Check(
                name: "thin pool \(pool.ref)", status: full ? .warning : .ok,
                detail:
                    "data \(format2(data))%, metadata \(format2(metadata))% (threshold \(format2(thinPoolThreshold))%); "
                    + autoextendText,
                fix: full
                    ? "extend it ('lvextend -L +SIZE \(pool.ref.lvmPath)', '--poolmetadatasize +SIZE' for metadata) or "
                        + "free space; a full pool stops every thin volume in it"
                        + (threshold < 100 ? "" : "; or set thin_pool_autoextend_threshold below 100 in lvm.conf")
                    : "")
        }
    }

    /// The configuration file, the attach mode in force and why, and the kubelet root.
    func configurationChecks(_ configuration: Configuration, problems: [String]) -> [Check] {
        let path = Environment.value("FLEXLVM_CONFIG") ?? Configuration.defaultPath
        var checks = [
            Check(
                name: "configuration", status: problems.isEmpty ? .ok : .fail,
                detail: problems.isEmpty
                    ? (Files.exists(path) ? "\(path) is valid" : "no \(path); defaults in force")
                    : problems.joined(separator: "; "),
                fix: problems.isEmpty
                    ? ""
                    : "fix the file: until then every call but init, getvolumename, unmount, unmountdevice, "
                        + "detach and reconcile fails (those run with the broken lines skipped)")
        ]
        let mode = AttachMode.decide(
            environment: Environment.value, configFile: try? Files.read(path, limit: 64 * 1024), configPath: path,
            executablePaths: [PluginLayout(pluginDir: pluginDir).driverFile])
        checks.append(
            Check(
                name: "attach mode", status: .ok,
                detail: "attach: \(mode.attach) (\(mode.reason))"
                    + (mode.attach
                        ? "; kube-controller-manager must run the driver (its --flex-volume-plugin-dir mounted)"
                        : "; kubelet calls only mount and unmount"),
                fix: ""))
        checks.append(
            Check(
                name: "kubelet root", status: .ok,
                detail: configuration.kubeletRoot.map { "only \($0) (kubeletRoot setting)" }
                    ?? "any: taken from each path kubelet passes (--root-dir of kubelet)"))
        return checks
    }

    func pluginChecks() -> [Check] {
        let layout = PluginLayout(pluginDir: pluginDir)
        guard Files.exists(layout.driverFile) else {
            return [
                Check(
                    name: "plugin install", status: .fail, detail: "\(layout.driverFile) does not exist",
                    fix: "run 'flexlvm install --plugin-dir \(pluginDir)' (or the DaemonSet in manifests/)")
            ]
        }
        var checks: [Check] = []
        for path in [layout.driverFile, layout.nodeBinary] {
            guard let info = try? Files.status(path) else {
                checks.append(Check(name: "plugin file", status: .fail, detail: "\(path) is missing", fix: "reinstall"))
                continue
            }
            let executable = info.st_mode & 0o111 == 0o111
            let worldWritable = info.st_mode & 0o002 != 0
            checks.append(
                Check(
                    name: "plugin file \(Paths.baseName(of: path))", status: executable && !worldWritable ? .ok : .fail,
                    detail: "mode \(String(info.st_mode & 0o7777, radix: 8))",
                    fix: executable && !worldWritable ? "" : "chmod 0755 \(path)"))
        }
        let head = (try? Files.read(layout.driverFile, limit: 512 << 20).prefix(4096)) ?? []
        let dynamic = String(decoding: head, as: UTF8.self).contains("ld-linux")
        checks.append(
            Check(
                name: "driver file linkage", status: dynamic ? .warning : .ok,
                detail: dynamic ? "dynamically linked: it cannot run in kube-controller-manager's image" : "static",
                fix: dynamic ? "install the files from scripts/build-release" : ""))
        let strays = ((try? Files.list(layout.driverDir)) ?? []).filter {
            !$0.hasPrefix(".") && $0 != KubeletPaths.driver
        }
        checks.append(
            Check(
                name: "plugin dir contents", status: strays.isEmpty ? .ok : .warning,
                detail: strays.isEmpty
                    ? "\(layout.driverDir) holds only the driver" : "stray files: \(strays.joined(separator: ", "))",
                fix: strays.isEmpty ? "" : "remove them: kubelet re-probes on every change in this dir"))
        if let result = try? Subprocess.run([layout.driverFile, "init"], timeout: 10),
            result.standardOutput.contains("\"status\":\"Success\""), result.stderr.isEmpty
        {
            checks.append(Check(name: "driver init", status: .ok, detail: result.standardOutput.trimmingSpaces))
        } else {
            checks.append(
                Check(
                    name: "driver init", status: .fail, detail: "\(layout.driverFile) init did not answer Success",
                    fix: "reinstall; run it by hand to see its reply"))
        }
        return checks
    }
}
