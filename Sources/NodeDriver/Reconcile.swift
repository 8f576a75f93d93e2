import DeviceMapperQueries
import FlexLVMCore
import FlexVolume

/// What one reconcile pass found and did.
public struct ReconcileReport: Sendable, Equatable {
    /// LVs it deactivated: active, not open, mounted nowhere.
    public var released: [LogicalVolumeRef] = []
    /// Active LVs it left alone because something holds them (a mount, a process).
    public var inUse: [LogicalVolumeRef] = []
    /// LVs it skipped because a driver call holds their lock right now.
    public var busy: [LogicalVolumeRef] = []
    /// Recorded LVs that are not active.
    public var inactive = 0
    /// LVs whose release failed, with why.
    public var failures: [String] = []

    public init() {}
}

/// `flexlvm reconcile`: no LV the driver served stays active without an owner.
///
/// kubelet calls unmountdevice only when the global dir is still a mount, and KCM's detach
/// runs on another host; so after a crash between unmount and deactivation, a deactivation
/// refused while a transient opener held the device, or a reboot that auto-activated every LV,
/// nothing else would ever release the LV.
extension NodeDriver {
    /// Releases every staged LV no pod uses, then every LV this node recorded (attached,
    /// mounted or provisioned through the driver) that is active, not open and mounted
    /// nowhere: one device-mapper query per recorded LV, and LVM only for those it releases.
    /// LVs whose lock a driver call holds are skipped, and taken on the next pass.
    public func reconcile() throws -> ReconcileReport {
        let stagedFailures = releaseUnusedStagedVolumes()
        var report = try releaseIdleRecordedVolumes()
        report.failures = stagedFailures + report.failures
        log?.record(
            report.failures.isEmpty ? "info" : "error", "reconcile",
            [
                ("released", report.released.map(\.lvmPath).joined(separator: ",")),
                ("inUse", String(report.inUse.count)), ("busy", report.busy.map(\.lvmPath).joined(separator: ",")),
                ("inactive", String(report.inactive)), ("failures", report.failures.joined(separator: "; ")),
            ])
        return report
    }
}
