import FlexLVMCore

/// The options object kubelet and KCM pass as one JSON argument (contract §2): the PV's
/// `flexVolume.options` merged with the `kubernetes.io/*` keys.
///
/// Known keys must hold strings; unknown keys are ignored. Secret values are never kept:
/// only the names of `kubernetes.io/secret/*` keys are, so that nothing can log them.
public struct VolumeOptions: Sendable, Equatable {
    public var volumeGroup: String?
    public var volumeID: String?
    public var fsType: String = ""
    public var readOnly = false
    public var pvOrVolumeName: String?
    public var podName: String?
    public var podNamespace: String?
    public var podUID: String?
    public var serviceAccountName: String?
    public var fsGroup: String?
    public var mkfsOptions: String?
    public var mountOptions: String?
    /// Names of the `kubernetes.io/secret/...` keys present (values are dropped on parse).
    public var secretKeys: [String] = []

    public init() {}

    static let secretPrefix = "kubernetes.io/secret/"

    /// Parses the JSON argument.
    public static func parse(_ bytes: [UInt8]) throws -> VolumeOptions {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch let error as FlexLVMError {
            throw FlexLVMError(.invalidArgument, "the options argument is not valid JSON: \(error.message)")
        }
        guard case .object(let members) = value else {
            throw FlexLVMError(.invalidArgument, "the options argument must be a JSON object, not \(value.typeName)")
        }
        var options = VolumeOptions()
        var seen = Set<String>()
        for (key, value) in members {
            guard seen.insert(key).inserted else {
                throw FlexLVMError(.invalidArgument, "option \(quoted(key)) appears more than once")
            }
            if key.hasPrefix(secretPrefix) {
                options.secretKeys.append(String(key.dropFirst(secretPrefix.count)))
                continue
            }
            guard let field = Self.fields[key] else { continue }
            guard case .string(let string) = value else {
                throw FlexLVMError(.invalidArgument, "option \(key) must be a string, not \(value.typeName)")
            }
            guard !string.unicodeScalars.contains(where: { $0.value == 0 }) else {
                throw FlexLVMError(.invalidArgument, "option \(key) contains a NUL character")
            }
            try field(&options, string)
        }
        return options
    }

    private static let fields: [String: @Sendable (inout VolumeOptions, String) throws -> Void] = [
        "volumegroup": { $0.volumeGroup = $1 },
        "volumeID": { $0.volumeID = $1 },
        "kubernetes.io/fsType": { $0.fsType = $1 },
        "kubernetes.io/readwrite": { options, value in
            switch value {
            case "ro": options.readOnly = true
            case "rw", "": options.readOnly = false
            default:
                throw FlexLVMError(
                    .invalidArgument, "option kubernetes.io/readwrite must be 'ro' or 'rw', not \(quoted(value))")
            }
        },
        "kubernetes.io/pvOrVolumeName": { $0.pvOrVolumeName = $1 },
        "kubernetes.io/pod.name": { $0.podName = $1 },
        "kubernetes.io/pod.namespace": { $0.podNamespace = $1 },
        "kubernetes.io/pod.uid": { $0.podUID = $1 },
        "kubernetes.io/serviceAccount.name": { $0.serviceAccountName = $1 },
        "kubernetes.io/mounterArgs.FsGroup": { $0.fsGroup = $1 },
        "kubernetes.io/fsGroup": { $0.fsGroup = $1 },
        "mkfsOptions": { $0.mkfsOptions = $1 },
        "mountOptions": { $0.mountOptions = $1 },
    ]

    /// The LV these options name; both `volumegroup` and `volumeID` are required.
    public func logicalVolume() throws -> LogicalVolumeRef {
        guard let volumeGroup else {
            throw FlexLVMError(
                .invalidArgument,
                "option volumegroup is missing: the PV's flexVolume.options must name the LVM volume group")
        }
        guard let volumeID else {
            throw FlexLVMError(
                .invalidArgument, "option volumeID is missing: the PV's flexVolume.options must name the logical volume"
            )
        }
        return try LogicalVolumeRef(volumeGroup: volumeGroup, name: volumeID)
    }
}
