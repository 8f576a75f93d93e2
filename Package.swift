// swift-tools-version: 6.2
//
// FlexLVM: a Kubernetes FlexVolume driver that serves LVM logical volumes.
//
// Two executables come out of this package:
// - `flexlvm`: the driver kubelet and kube-controller-manager execute. Built fully static
//   (libdevmapper included, no liblvm2cmd), it runs in KCM's empty image. It answers `init`,
//   `getvolumename`, the controller-side calls and the node's hot path (isattached, and
//   waitforattach on an LV the kernel already has active: one DM_DEVICE_INFO) itself, and
//   hands other node-side work to the node binary with execve.
// - `flexlvm-node`: the node-side driver. It links libdevmapper, liblvm2cmd and libblkid and
//   does all LVM work in-process.

import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "FlexLVM",
    products: [
        .executable(name: "flexlvm", targets: ["flexlvm"]),
        .executable(name: "flexlvm-node", targets: ["FlexLVMNode"]),
        .executable(name: "flexlvm-integration", targets: ["Integration"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // C shims over libdevmapper: DM_DEVICE_INFO queries. Static builds of the driver file
        // link libdevmapper.a built from LVM2's source (scripts/build-libdevmapper).
        .target(
            name: "CDeviceMapper",
            cSettings: [.define("_GNU_SOURCE"), .treatAllWarnings(as: .error)],
            linkerSettings: [.linkedLibrary("devmapper")]
        ),
        // C shims over liblvm2cmd, loaded on demand (no pkg-config file for lvm2cmd).
        .target(
            name: "CLVM",
            cSettings: [.define("_GNU_SOURCE"), .treatAllWarnings(as: .error)],
            linkerSettings: [.linkedLibrary("dl")]
        ),
        // Linux calls Swift's Glibc module does not expose.
        .target(
            name: "CSystem",
            cSettings: [.define("_GNU_SOURCE"), .treatAllWarnings(as: .error)]
        ),
        // libblkid's probe, for the never-reformat check.
        .target(
            name: "CBlkid",
            cSettings: [.define("_GNU_SOURCE"), .treatAllWarnings(as: .error)],
            linkerSettings: [.linkedLibrary("dl")]
        ),
        // Errors, system-call helpers, configuration, JSON and the driver's log.
        .target(name: "FlexLVMCore", dependencies: ["CSystem"], swiftSettings: strict),
        // The FlexVolume protocol: argv, options, names, replies. No LVM.
        .target(name: "FlexVolume", dependencies: ["FlexLVMCore"], swiftSettings: strict),
        // The mount table, mount(2) and the allowed mount options.
        .target(name: "Mounts", dependencies: ["FlexLVMCore"], swiftSettings: strict),
        // Filesystems: libblkid probe, mkfs and online growth.
        .target(name: "Filesystems", dependencies: ["CBlkid", "FlexLVMCore"], swiftSettings: strict),
        // The kernel's view of LVs: libdevmapper queries, one ioctl each, and the libraries'
        // message routing. Small enough for the driver file's hot path.
        .target(
            name: "DeviceMapperQueries", dependencies: ["CDeviceMapper", "FlexLVMCore", "FlexVolume"],
            swiftSettings: strict),
        // In-process LVM: liblvm2cmd commands.
        .target(
            name: "LVM", dependencies: ["CLVM", "CSystem", "DeviceMapperQueries", "FlexLVMCore", "FlexVolume"],
            swiftSettings: strict),
        // The node-side operations: attach lifecycle and (later) mounts.
        .target(
            name: "NodeDriver",
            dependencies: [
                "CSystem", "DeviceMapperQueries", "FlexLVMCore", "FlexVolume", "LVM", "Mounts", "Filesystems",
            ],
            swiftSettings: strict
        ),
        // Admin commands: provision, volumes, doctor, install, uninstall.
        .target(
            name: "Admin",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"), "DeviceMapperQueries",
                "Filesystems", "FlexLVMCore", "FlexVolume", "LVM", "Mounts", "NodeDriver",
            ],
            swiftSettings: strict
        ),
        // The static front executed by kubelet and KCM.
        .executableTarget(
            name: "flexlvm",
            dependencies: ["DeviceMapperQueries", "FlexVolume", "FlexLVMCore"],
            swiftSettings: strict
        ),
        // The node-side driver.
        .executableTarget(
            name: "FlexLVMNode",
            dependencies: [
                "Admin", "CSystem", "DeviceMapperQueries", "FlexVolume", "FlexLVMCore", "LVM", "NodeDriver",
            ],
            swiftSettings: strict
        ),
        // Unit tier: host only, no root, no kernel features.
        .testTarget(
            name: "FlexVolumeTests",
            dependencies: ["Admin", "FlexVolume", "FlexLVMCore", "LVM", "Mounts", "Filesystems"],
            swiftSettings: strict
        ),
        // Integration tier: run as root inside the real-kernel guest (scripts/test).
        .executableTarget(
            name: "Integration",
            dependencies: [
                "DeviceMapperQueries", "FlexVolume", "FlexLVMCore", "LVM", "NodeDriver", "Mounts", "Filesystems",
            ],
            path: "Tests/Integration",
            exclude: ["Corpus"],
            swiftSettings: strict
        ),
    ]
)
