import FlexLVMCore
import Testing

@testable import FlexVolume

private func options(_ text: String) throws -> VolumeOptions {
    try VolumeOptions.parse(Array(text.utf8))
}

private func message(_ body: () throws -> Void) -> String {
    do {
        try body()
        return "no error"
    } catch {
        return "\(error)"
    }
}

@Suite("options and LVM names")
struct VolumeOptionsTests {
    @Test func readsKubeletKeysAndIgnoresUnknownOnes() throws {
        let parsed = try options(
            #"{"kubernetes.io/fsType":"xfs","kubernetes.io/pod.uid":"u1","kubernetes.io/pvOrVolumeName":"pv-1","#
                + #""kubernetes.io/readwrite":"ro","size":"1000m","unknown":7,"volumeID":"vol1","volumegroup":"kube_vg"}"#
        )
        #expect(parsed.fsType == "xfs")
        #expect(parsed.readOnly)
        #expect(parsed.pvOrVolumeName == "pv-1")
        #expect(parsed.podUID == "u1")
        #expect(try parsed.logicalVolume() == LogicalVolumeRef(volumeGroup: "kube_vg", name: "vol1"))
    }

    @Test func keepsSecretKeyNamesButNeverValues() throws {
        let parsed = try options(#"{"kubernetes.io/secret/password":"c2VjcmV0","volumeID":"v","volumegroup":"g"}"#)
        #expect(parsed.secretKeys == ["password"])
        #expect(!"\(parsed)".contains("c2VjcmV0"))
    }

    @Test func requiresVolumegroupAndVolumeID() throws {
        #expect(message { _ = try options(#"{"volumeID":"v"}"#).logicalVolume() }.contains("volumegroup is missing"))
        #expect(message { _ = try options(#"{"volumegroup":"g"}"#).logicalVolume() }.contains("volumeID is missing"))
    }

    @Test(arguments: [
        #"{"volumeID":5}"#, #"{"volumeID":null}"#, #"{"volumeID":["a"]}"#, #"{"kubernetes.io/readwrite":"maybe"}"#,
        #"{"volumeID":"a","volumeID":"b"}"#, #"{"volumeID":"a\u0000b"}"#, "[]", "\"string\"", "42", "null", "",
        #"{"volumeID":"x""#,
    ])
    func refusesMalformedOptions(_ text: String) {
        #expect(throws: FlexLVMError.self) { try options(text) }
    }

    @Test(arguments: [
        "a;rm -rf /", "$(reboot)", "`id`", "a b", "../etc", "a/b", "-lv", ".", "..", "", "snapshot1", "pvmove0",
        "data_tmeta", "x_rimage_0", "x_mlog", "ü", "a\nb", String(repeating: "x", count: 128),
    ])
    func refusesNamesLVMWouldRefuse(_ name: String) {
        #expect(throws: FlexLVMError.self) { try LogicalVolumeRef(volumeGroup: "vg", name: name) }
    }

    @Test(arguments: ["lv", "LV_1", "a-b", "a--b", "x+y", "v.1", String(repeating: "x", count: 60)])
    func acceptsValidNames(_ name: String) throws {
        _ = try LogicalVolumeRef(volumeGroup: "vg", name: name)
    }

    @Test func volumeGroupsMayUseReservedLVPrefixes() throws {
        _ = try LogicalVolumeRef(volumeGroup: "snapshots", name: "lv")
    }

    @Test func escapesDashesLikeDeviceMapper() throws {
        let ref = try LogicalVolumeRef(volumeGroup: "my-vg", name: "lv--1")
        #expect(ref.deviceMapperName == "my--vg-lv----1")
        #expect(ref.devicePath == "/dev/mapper/my--vg-lv----1")
        #expect(ref.lvmPath == "my-vg/lv--1")
    }

    @Test func refusesNamesWhoseDeviceNameIsTooLong() {
        #expect(throws: FlexLVMError.self) {
            try LogicalVolumeRef(
                volumeGroup: String(repeating: "g", count: 100), name: String(repeating: "l", count: 30))
        }
        #expect(throws: FlexLVMError.self) {
            try LogicalVolumeRef(
                volumeGroup: "g" + String(repeating: "-", count: 60), name: String(repeating: "a", count: 10))
        }
    }

    @Test func messagesQuoteHostileValuesSafely() {
        let text = message { _ = try LogicalVolumeRef(volumeGroup: "vg", name: "a\nFAKE LOG LINE") }
        #expect(!text.contains("\n"))
        #expect(text.contains("\\xa"))
    }

    @Test(arguments: [
        "pv-1", "pvc-0b5d2c1e-9d7e-4f57-9a0b-1c2d3e4f5a6b", "a.b.c", "data_1", "x",
        String(repeating: "a", count: 253),
    ])
    func volumeNamesKubernetesGives(_ name: String) {
        #expect(VolumeNameRules.isValid(name))
    }

    @Test(arguments: [
        "", ".", "..", ".hidden", "-flag", "a/b", "a b", "a+b", "a\u{0}b", "né",
        String(repeating: "a", count: 254),
    ])
    func volumeNamesNeverLetIntoPaths(_ name: String) {
        #expect(!VolumeNameRules.isValid(name))
    }
}
