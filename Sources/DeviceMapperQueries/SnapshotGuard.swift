import FlexLVMCore
import FlexVolume

/// Keeps snapshots away from pods cheaply, for LVs the kernel already has active (where no
/// LVM metadata is read): a COW snapshot always has its `<vg>-<lv>-cow` layer device (one
/// DM_DEVICE_INFO), and a thin snapshot made by `flexlvm snapshot create` has a marker in
/// the state dir holding its DM UUID (one open). A thin snapshot made by hand and activated
/// by hand with `lvchange -ay -K` is only caught when the driver reads LVM's metadata
/// (activation).
public enum SnapshotGuard {
    /// The marker file of a snapshot created by flexlvm.
    public static func markerPath(stateDir: String, _ ref: LogicalVolumeRef) -> String {
        Paths.join(Paths.join(stateDir, "snapshots"), ref.deviceMapperName)
    }

    /// Records that the LV with `uuid` (its DM UUID) is a snapshot.
    public static func mark(stateDir: String, _ ref: LogicalVolumeRef, uuid: String) throws {
        try Files.makeDirectories(Paths.join(stateDir, "snapshots"), mode: 0o755)
        try Files.writeAtomically(markerPath(stateDir: stateDir, ref), Array((uuid + "\n").utf8))
    }

    /// Forgets a snapshot's marker.
    public static func unmark(stateDir: String, _ ref: LogicalVolumeRef) {
        try? Files.removeIfPresent(markerPath(stateDir: stateDir, ref))
    }

    /// Why the active device `device` of `ref` is a snapshot, or nil when it is not one.
    public static func activeSnapshotReason(_ ref: LogicalVolumeRef, device: DeviceInfo, stateDir: String) throws
        -> String?
    {
        if let cow = try DeviceMapper.info(name: ref.deviceMapperName + "-cow"),
            cow.uuid == device.uuid + "-cow"
        {
            return "a COW snapshot (its device has a -cow layer)"
        }
        let marker = markerPath(stateDir: stateDir, ref)
        if let bytes = try? Files.read(marker, limit: 256),
            String(decoding: bytes, as: UTF8.self).trimmingSpaces == device.uuid
        {
            return "a snapshot made by 'flexlvm snapshot create'"
        }
        return nil
    }

    /// The Failure message for a snapshot named by a PV.
    public static func refusal(_ ref: LogicalVolumeRef, _ reason: String) -> FlexLVMError {
        FlexLVMError(
            .unsupported,
            "LV \(ref) is \(reason); snapshots are never served to pods (they change as their origin changes and "
                + "share its filesystem UUID): use 'flexlvm clone --vg \(ref.volumeGroup) --from \(ref.name) "
                + "--name NEW' for a writable, independent copy")
    }
}
