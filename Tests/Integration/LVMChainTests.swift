import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import Foundation
import LVM

/// The foundation's chain: Swift code of the project activates and deactivates an LV
/// through liblvm2cmd in-process, and libdevmapper observes it; the LVM tools confirm.
enum LVMChainTests {
    static let cases: [TestCase] = [
        TestCase("lvm-chain/activate-deactivate-in-process") { fixture in
            let ref = try LogicalVolumeRef(volumeGroup: fixture.volumeGroup, name: try fixture.createVolume("chain"))
            LibraryMessages.install(log: nil)
            let lvm = try LVM()

            let info = try lvm.logicalVolume(ref)
            try expect(!info.isActive, "new LV should be inactive, lv_attr \(info.attributes)")
            try expectEqual(info.sizeBytes, 16 << 20, "LV size")
            try expect(try DeviceMapper.info(name: ref.deviceMapperName) == nil, "no DM device before activation")
            try expect(try DeviceMapper.info(uuid: info.deviceMapperUUID) == nil, "no DM UUID before activation")

            try lvm.activate(ref)
            let byName = try DeviceMapper.info(name: ref.deviceMapperName)
            let byUUID = try DeviceMapper.info(uuid: info.deviceMapperUUID)
            try expect(byName != nil, "DM device \(ref.deviceMapperName) should exist after activation")
            try expectEqual(byName, byUUID, "device by name and by UUID")
            try expectEqual(byName?.uuid, info.deviceMapperUUID, "DM UUID")
            try expectEqual(byName?.openCount, 0, "open count")
            try expect(fixture.dmsetupHasDevice(ref.deviceMapperName), "dmsetup should see the device")
            try expectEqual(Array(try fixture.attributes("chain"))[4], "a", "lvs state after activation")
            let number = try DeviceNumber.ofBlockDevice(ref.devicePath)
            try expectEqual(
                number, DeviceNumber(major: byName!.major, minor: byName!.minor), "\(ref.devicePath) device number")
            try expect(try lvm.logicalVolume(ref).isActive, "metadata says active")

            try lvm.deactivate(ref)
            try expect(try DeviceMapper.info(name: ref.deviceMapperName) == nil, "DM device gone after deactivation")
            try expect(!fixture.dmsetupHasDevice(ref.deviceMapperName), "dmsetup should not see the device")
            try expectEqual(Array(try fixture.attributes("chain"))[4], "-", "lvs state after deactivation")
        },
        TestCase("lvm-chain/dashes-are-escaped") { fixture in
            let ref = try LogicalVolumeRef(volumeGroup: fixture.volumeGroup, name: try fixture.createVolume("a-b--c"))
            try expectEqual(ref.deviceMapperName, "flexlvm_it-a--b----c", "escaped name")
            LibraryMessages.install(log: nil)
            let lvm = try LVM()
            try lvm.activate(ref)
            try expect(try DeviceMapper.info(name: ref.deviceMapperName) != nil, "escaped DM name resolves")
            try expect(Files.exists(ref.devicePath), "\(ref.devicePath) exists")
            try lvm.deactivate(ref)
        },
        TestCase("lvm-chain/errors-carry-lvm-words") { fixture in
            LibraryMessages.install(log: nil)
            let lvm = try LVM()
            do {
                _ = try lvm.logicalVolume(try LogicalVolumeRef(volumeGroup: "no_such_vg", name: "x"))
                throw TestFailure("lvs of a missing VG succeeded")
            } catch let error as FlexLVMError {
                try expectEqual(error.code, .notFound, "code for missing VG")
                try expect(error.message.contains("no_such_vg"), "message names the VG: \(error)")
            }
            do {
                _ = try lvm.logicalVolume(try LogicalVolumeRef(volumeGroup: fixture.volumeGroup, name: "missing"))
                throw TestFailure("lvs of a missing LV succeeded")
            } catch let error as FlexLVMError {
                try expectEqual(error.code, .notFound, "code for missing LV")
                try expect(error.message.contains("missing"), "message names the LV: \(error)")
            }
            do {
                try lvm.activate(try LogicalVolumeRef(volumeGroup: fixture.volumeGroup, name: "missing"))
                throw TestFailure("activating a missing LV succeeded")
            } catch let error as FlexLVMError {
                try expectEqual(error.code, .lvm, "code for refused activation")
                try expect("\(error)".contains("missing"), "LVM's own words are carried: \(error)")
            }
        },
    ]
}
