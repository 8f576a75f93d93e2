import FlexLVMCore

/// What the node's settings say of a volume: whether it may be served here, and where its
/// lock lives. Shared by the node binary and the driver file's hot path.
extension Configuration {
    /// The LV the options name, if the node's `volumeGroups` setting allows its VG.
    public func servedVolume(_ options: VolumeOptions) throws -> LogicalVolumeRef {
        let ref = try options.logicalVolume()
        guard volumeGroups.isEmpty || volumeGroups.contains(ref.volumeGroup) else {
            throw FlexLVMError(
                .invalidArgument,
                "volume group \(ref.volumeGroup) is not one this node serves (volumeGroups: "
                    + "\(volumeGroups.joined(separator: ", ")))")
        }
        return ref
    }

    /// The lock file that serialises every node-side change to `ref`.
    public func lockPath(_ ref: LogicalVolumeRef) -> String {
        Paths.join(lockDir, "\(ref.deviceMapperName).lock")
    }
}

extension VolumeMap {
    /// Records the PV (or inline volume) name the options carry for `ref`, for `detach`;
    /// options without a name record nothing.
    public func remember(_ options: VolumeOptions, _ ref: LogicalVolumeRef) throws {
        guard let name = options.pvOrVolumeName, !name.isEmpty else { return }
        guard VolumeNameRules.isValid(name) else {
            throw FlexLVMError(
                .invalidArgument, "option kubernetes.io/pvOrVolumeName \(quoted(name)) is not a valid volume name")
        }
        try record(name, ref)
    }
}
