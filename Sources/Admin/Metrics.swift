import ArgumentParser
import DeviceMapperQueries
import FlexLVMCore
import FlexVolume
import LVM
import Mounts

/// `flexlvm metrics`: this node's VGs, thin pools, managed LVs and driver calls in
/// Prometheus' text exposition format.
struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print Prometheus metrics: VGs, thin pools, the LVs flexlvm manages, and driver calls.",
        discussion: """
            Prints Prometheus' text exposition format (0.0.4):
              flexlvm_vg_size_bytes, flexlvm_vg_free_bytes {vg}: every VG (only the volumeGroups \
            setting's VGs when it is set);
              flexlvm_thin_pool_size_bytes, flexlvm_thin_pool_data_used_ratio, \
            flexlvm_thin_pool_metadata_used_ratio {vg,pool}: every thin pool of those VGs, use as \
            0..1 (LVM's percent / 100); no ratio while a pool is inactive, as LVM cannot read it;
              flexlvm_lv_size_bytes, flexlvm_lv_active, flexlvm_lv_open_count, flexlvm_lv_mounted \
            {vg,lv,pv}: the LVs 'flexlvm volumes' lists (tagged "flexlvm", or recorded by an attach \
            here), with the PV name when known; active and open count from the kernel's \
            device-mapper, mounted (anywhere) from the mount table;
              flexlvm_operation_replies_total {op,status} (counter) and \
            flexlvm_operation_duration_seconds {op} (histogram): the FlexVolume replies the driver's \
            log (logFile) records. They count since the log file began: when the log is rotated or \
            removed they start again from zero, a counter reset that Prometheus' rate() and \
            increase() handle. Replies the driver file answered itself (hot path, controller side) \
            carry no time and are counted, not timed; its init and getvolumename are not logged, so \
            not counted. Operations other than the FlexVolume ones count as op="other".

            All LVM data is read in-process through liblvm2cmd (run as root). With --output-file the \
            text is written atomically (a temporary file in the same dir, then renamed; mode 0644) \
            for node-exporter's textfile collector, which reads *.prom files in the dir given by its \
            --collector.textfile.directory flag; run it from a timer (every minute, say).

            Example: flexlvm metrics --output-file /var/lib/node_exporter/textfile_collector/flexlvm.prom
            """)

    @Option(
        help: ArgumentHelp(
            "Write the metrics to this file, atomically, instead of stdout (a *.prom file in "
                + "node-exporter's textfile collector dir).", valueName: "path"))
    var outputFile: String?

    func run() throws {
        try admin {
            let configuration = try Configuration.load()
            // Not routed into the driver's log: a scrape every minute would fill the very log
            // it counts replies from. LVM's errors still reach the messages thrown.
            LibraryMessages.install(log: nil)
            let text = try Self.collect(configuration)
            if let outputFile {
                try Files.writeAtomically(outputFile, Array(text.utf8), mode: 0o644)
            } else {
                try Files.writeAll(1, Array(text.utf8), object: "stdout")
            }
        }
    }

    static func collect(_ configuration: Configuration) throws -> String {
        var out = Exposition()
        let served = { (vg: String) in configuration.volumeGroups.isEmpty || configuration.volumeGroups.contains(vg) }
        let lvm = try LVM()

        for group in try lvm.volumeGroupUsage().sorted(by: { $0.name < $1.name }) where served(group.name) {
            let labels = [("vg", group.name)]
            out.add(
                "flexlvm_vg_size_bytes", .gauge, help: "Size of the volume group in bytes.", labels: labels,
                value: String(group.sizeBytes))
            out.add(
                "flexlvm_vg_free_bytes", .gauge, help: "Unallocated space of the volume group in bytes.",
                labels: labels, value: String(group.freeBytes))
        }

        let pools = try lvm.thinPoolUsage().sorted { ($0.volumeGroup, $0.name) < ($1.volumeGroup, $1.name) }
        for pool in pools where served(pool.volumeGroup) {
            let labels = [("vg", pool.volumeGroup), ("pool", pool.name)]
            out.add(
                "flexlvm_thin_pool_size_bytes", .gauge, help: "Data size of the thin pool in bytes.", labels: labels,
                value: String(pool.sizeBytes))
            if let ratio = pool.dataUsedRatio {
                out.add(
                    "flexlvm_thin_pool_data_used_ratio", .gauge,
                    help: "Used share of the thin pool's data space, 0 to 1 (LVM's data_percent / 100).",
                    labels: labels, value: Exposition.number(ratio))
            }
            if let ratio = pool.metadataUsedRatio {
                out.add(
                    "flexlvm_thin_pool_metadata_used_ratio", .gauge,
                    help: "Used share of the thin pool's metadata space, 0 to 1 (LVM's metadata_percent / 100).",
                    labels: labels, value: Exposition.number(ratio))
            }
        }

        let (volumes, names) = try Volumes.managed(lvm, stateDir: configuration.stateDir)
        let table = try MountTable.current()
        for info in volumes.sorted(by: { $0.ref.lvmPath < $1.ref.lvmPath }) {
            let device = try DeviceMapper.info(name: info.ref.deviceMapperName)
            let active = device?.hasLiveTable ?? false
            let mounted = device.map { !table.mounts(of: DeviceNumber(major: $0.major, minor: $0.minor)).isEmpty }
            let labels = [("vg", info.ref.volumeGroup), ("lv", info.ref.name), ("pv", names[info.ref] ?? "")]
            out.add(
                "flexlvm_lv_size_bytes", .gauge, help: "Size of the LV in bytes (a thin LV's virtual size).",
                labels: labels, value: String(info.sizeBytes))
            out.add(
                "flexlvm_lv_active", .gauge, help: "1 when the kernel has the LV active (a live device-mapper table).",
                labels: labels, value: active ? "1" : "0")
            out.add(
                "flexlvm_lv_open_count", .gauge,
                help: "Holders of the LV's device-mapper device (mounts, processes, stacked devices).",
                labels: labels, value: String(device?.openCount ?? 0))
            out.add(
                "flexlvm_lv_mounted", .gauge, help: "1 when the LV's filesystem is mounted anywhere on the node.",
                labels: labels, value: mounted == true ? "1" : "0")
        }

        let log = try OperationLog.read(path: configuration.logFile)
        for (key, count) in log.replies.sorted(by: { $0.key < $1.key }) {
            out.add(
                "flexlvm_operation_replies_total", .counter,
                help: "FlexVolume replies by operation and status, since the driver's log file began "
                    + "(it restarts from zero when the log is rotated).",
                labels: [("op", key.operation), ("status", key.status)], value: String(count))
        }
        for (operation, histogram) in log.durations.sorted(by: { $0.key < $1.key }) {
            out.add(
                "flexlvm_operation_duration_seconds",
                help: "Time the node binary took per FlexVolume call, since the driver's log file began "
                    + "(replies without a time are not included).",
                labels: [("op", operation)], histogram: histogram)
        }
        return out.text
    }
}
