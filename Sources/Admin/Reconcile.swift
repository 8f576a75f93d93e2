import ArgumentParser
import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import NodeDriver

#if canImport(Glibc)
    import Glibc
#endif

/// `flexlvm reconcile`: releases the LVs that kubelet will never release.
struct Reconcile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deactivate every LV flexlvm served on this node that is active but unused.",
        discussion: """
            An LV is released when this node recorded it (attached, mounted or provisioned through \
            flexlvm) and it is active, not open and mounted nowhere: what a crash between unmount and \
            deactivation, a deactivation refused while something briefly held the device, or a reboot \
            with LVM's auto-activation leaves behind. Staged LVs (attach:false) that no pod uses are \
            unmounted first. An LV a driver call is working on is skipped until the next pass. The \
            node agent (flexlvm agent, the DaemonSet) runs it every 60 seconds. Works with a broken \
            configuration file (its broken lines are skipped), like unmount does.

            Example: flexlvm reconcile --output json
            """)

    @Option(help: "table or json.") var output: OutputFormat = .table
    @Option(help: "Run again every this many seconds, forever (the node agent's loop); 0 runs once.")
    var every: Int = 0
    @Option(help: "The Kubernetes node name (default: FLEXLVM_NODE_NAME, the config file, or the host name).")
    var node: String?

    func validate() throws {
        guard every >= 0 && every <= 86400 else { throw ValidationError("--every must be 0 to 86400 seconds") }
    }

    func run() throws {
        guard every > 0 else {
            if try admin({ try pass() }) { throw ExitCode(1) }
            return
        }
        // The loop outlives a failed pass: it says why and tries again on the next one.
        while true {
            do {
                _ = try admin { try pass() }
            } catch {
                print("reconcile: pass failed: \(error)")
            }
            sleep(UInt32(every))
        }
    }

    /// One pass; says whether any release failed.
    func pass() throws -> Bool {
        var (configuration, problems) = Configuration.loadLeniently()
        if let node { configuration.nodeName = node }
        let log = DriverLog(path: configuration.logFile)
        log.context = [("op", "reconcile")]
        if !problems.isEmpty {
            log.record("warning", "configuration-broken", [("problems", problems.joined(separator: "; "))])
        }
        LibraryMessages.install(log: log)
        guard DeviceMapper.isAvailable() else {
            throw FlexLVMError(.unsupported, "no device-mapper on this host: nothing to reconcile")
        }
        let report = try NodeDriver(configuration: configuration, log: log).reconcile()
        switch output {
        case .json:
            let list = { (refs: [LogicalVolumeRef]) in
                "[" + refs.map { JSONWriter.string($0.lvmPath) }.joined(separator: ",") + "]"
            }
            print(
                JSONWriter.object([
                    ("released", list(report.released)), ("inUse", list(report.inUse)), ("busy", list(report.busy)),
                    ("inactive", String(report.inactive)),
                    ("failures", "[" + report.failures.map(JSONWriter.string).joined(separator: ",") + "]"),
                ]))
        case .table:
            for ref in report.released { print("released  \(ref.lvmPath)") }
            for ref in report.busy { print("busy      \(ref.lvmPath) (a driver call holds it; next pass)") }
            for failure in report.failures { print("FAILED    \(failure)") }
            print(
                "reconcile: \(report.released.count) released, \(report.inUse.count) in use, \(report.busy.count) busy, "
                    + "\(report.inactive) inactive, \(report.failures.count) failed")
        }
        return !report.failures.isEmpty
    }
}
