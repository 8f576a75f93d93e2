import ArgumentParser
import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import LVM

/// `flexlvm restore`: rolls an origin back to a snapshot (LVM's merge).
struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Roll a volume back to one of its snapshots (LVM's merge); the snapshot is consumed.",
        discussion: """
            Refused while the origin (or the snapshot) is open: mounted for a pod, or used by anything \
            else. Stop the pod first (kubelet then calls unmountdevice). When LVM cannot merge at once \
            (a COW snapshot of an inactive origin, say), it defers the merge to the origin's next \
            activation; this command says so, and 'flexlvm volumes' shows the merge pending.

            Example: flexlvm restore --vg kube_vg --snapshot vol1-before-upgrade
            """)

    @Option(help: "The volume group.") var vg: String
    @Option(help: "The snapshot to roll its origin back to.") var snapshot: String
    @OptionGroup var nodeOptions: NodeOptions

    func run() throws {
        try admin {
            let configuration = try nodeOptions.configurationLoggingLibraries()
            let ref = try LogicalVolumeRef(volumeGroup: vg, name: snapshot)
            let lvm = try LVM()
            let info = try lvm.usage(of: ref)
            guard info.isSnapshot || (info.isThin && !info.origin.isEmpty && info.skipsActivation) else {
                throw FlexLVMError(.unsupported, "LV \(ref) is not a snapshot (lv_attr \(info.attributes))")
            }
            guard !info.origin.isEmpty else {
                throw FlexLVMError(.notFound, "snapshot \(ref) has no origin left (it was removed); nothing to restore")
            }
            guard !info.isInvalid else {
                throw FlexLVMError(
                    .unsupported, "snapshot \(ref) is invalid (its COW store overflowed); it cannot be restored")
            }
            let origin = try LogicalVolumeRef(volumeGroup: vg, name: info.origin)
            let lock = try FileLock(path: configuration.lockPath(origin))
            defer { lock.release() }
            for (what, lv) in [("origin", origin), ("snapshot", ref)] {
                if let device = try DeviceMapper.info(name: lv.deviceMapperName), device.openCount > 0 {
                    let mounts = try originMounts(lv)
                    throw FlexLVMError(
                        .busy,
                        "the \(what) \(lv) is in use (open count \(device.openCount)"
                            + (mounts.isEmpty ? "" : "; mounted at \(mounts.joined(separator: ", "))")
                            + "): restore needs it unmounted and closed; stop the pod that uses it first. "
                            + "Nothing was changed")
                }
            }
            try withResumeWatchdog(volumeGroupUUID: info.vgUUID) { _ = try lvm.merge(ref) }
            let after = try lvm.usage(volumeGroup: vg)
            let originNow = after.first { $0.ref == origin }
            if after.contains(where: { $0.ref == ref }) || originNow?.hasMergingSnapshot == true {
                print(
                    "LVM deferred the merge of \(ref) into \(origin) to the origin's next activation (attach, or "
                        + "'lvchange -ay \(origin.lvmPath)'); until then 'flexlvm volumes' shows it as merge pending. "
                        + "Once activated, the origin reads as the snapshot at once while LVM merges in the background."
                )
            } else {
                SnapshotGuard.unmark(stateDir: configuration.stateDir, ref)
                print("restored \(origin) to snapshot \(ref) (the snapshot was merged and is gone)")
            }
        }
    }
}
