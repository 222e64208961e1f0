// The shipped hive spec compiles into a handle; its location comes from the handle.
use lifecycle_core::Lifecycle;
use lifecycle_core::spec::Location;

#[derive(Lifecycle)]
#[lifecycle(spec = "specs/hive.yaml")]
struct HiveHandle {
    host: String,
    ssh_port: u16,
}

fn main() {
    let hive = HiveHandle { host: "gpu1".into(), ssh_port: 2222 };
    let Location::Ssh(ssh) = &hive.spec().location else { panic!("hive runs over ssh") };
    assert_eq!(hive.render(&ssh.port).unwrap(), "2222");
}
