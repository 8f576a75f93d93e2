import FlexLVMCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `flexlvm doctor` on the host: it must name the kernel's device-mapper first, as missing
/// where the kernel has none (this project's machines) and as present where it has one.
@Suite("doctor on the host")
struct DoctorHostTests {
    @Test func namesDeviceMapperFirst() throws {
        let driver = Paths.join(Paths.directory(of: Paths.currentExecutable()!), "flexlvm")
        let environment = [
            "FLEXLVM_LOG=/tmp/flexlvm-doctor-\(getpid()).log", "FLEXLVM_CONFIG=/dev/null",
            "FLEXLVM_STATE_DIR=/tmp/flexlvm-doctor-state-\(getpid())", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        ]
        let result = try Subprocess.run(
            [driver, "doctor", "--plugin-dir", "/nonexistent-plugin-dir"], environment: environment, timeout: 60)
        let first = result.standardOutput.split(separator: "\n").first.map(String.init) ?? ""
        // The kernel's own answer (a /dev/mapper/control node can exist without the driver).
        let misc = String(decoding: (try? Files.read("/proc/misc")) ?? [], as: UTF8.self)
        if misc.contains("device-mapper") {
            #expect(first.hasPrefix("ok    kernel device-mapper"))
        } else {
            #expect(first.hasPrefix("FAIL  kernel device-mapper: not available in this kernel"))
            #expect(result.standardOutput.contains("fix: load it with 'modprobe dm-mod'"))
        }
        #expect(result.status == 1)  // the plugin is not installed there, at least
        #expect(result.standardOutput.contains("FAIL  plugin install"))
    }
}
