//! What the bench binaries that run a collector on a generated store share:
//! the config listing many services ([`write_config`]), the empty store that
//! plain SQL then fills ([`open_for_fill`]), the wait for the collector's
//! `--ports-file` ([`ports_address`]) and latency percentiles
//! ([`summary`]).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use picket_collector::store::{EventSettings, Store};
use picket_collector::time::Clock;
use sqlx::AnyPool;

/// How a generated config names things: service `i`'s id, and equipment
/// `e`'s id and name, `per_equipment` services each.
pub struct Naming {
    pub per_equipment: usize,
    pub service: fn(usize) -> String,
    pub equipment: fn(usize) -> String,
    pub equipment_name: fn(usize) -> String,
}

impl Naming {
    /// The id of service `i`'s equipment.
    pub fn equipment_of(&self, i: usize) -> String {
        (self.equipment)(i / self.per_equipment)
    }

    /// How many equipment `services` services need.
    pub fn equipment_count(&self, services: usize) -> usize {
        services.div_ceil(self.per_equipment)
    }
}

/// Writes `dir/picket.toml`: a collector on port 0 over `dir/picket.db`
/// with `services` services named by `naming`; returns the database URL.
pub fn write_config(dir: &Path, services: usize, naming: &Naming) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    let url = format!("sqlite://{}", dir.join("picket.db").display());
    let mut toml = format!(
        "[collector]\ngrpc_listen = \"127.0.0.1:0\"\nhttp_listen = \"127.0.0.1:0\"\n\
         database = \"{url}\"\n\n[agents]\nenrollment_token = \"bench\"\n\n\
         [defaults]\ninterval = \"60s\"\n\n"
    );
    for e in 0..naming.equipment_count(services) {
        toml.push_str(&format!(
            "[[equipment]]\nid = \"{}\"\nname = \"{}\"\n",
            (naming.equipment)(e),
            (naming.equipment_name)(e)
        ));
    }
    for i in 0..services {
        toml.push_str(&format!(
            "[[services]]\nid = \"{}\"\nequipment = \"{}\"\nurl = \"https://s{i}.bench.test/health\"\n",
            (naming.service)(i),
            naming.equipment_of(i)
        ));
    }
    std::fs::write(dir.join("picket.toml"), toml)?;
    Ok(url)
}

/// Creates the schema at `url` (`Store::open` runs the migrations), then
/// hands a plain pool for filling it by SQL.
pub async fn open_for_fill(url: &str) -> anyhow::Result<AnyPool> {
    Store::open(url, EventSettings::default(), Clock::system())
        .await?
        .close()
        .await;
    sqlx::any::install_default_drivers();
    Ok(AnyPool::connect(url).await?)
}

/// The address under `key` (`grpc`, `http`) in a collector's ports file,
/// once it is there (polled every 100 ms: the collector writes it after
/// binding, and nothing else tells a separate process), or an error after
/// `within`.
pub async fn ports_address(
    ports_file: &Path,
    key: &str,
    within: Duration,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + within;
    loop {
        let address = std::fs::read_to_string(ports_file)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|j| j[key].as_str().map(str::to_owned));
        if let Some(address) = address {
            return Ok(address);
        }
        if Instant::now() > deadline {
            bail!(
                "no {key} address in {} after {within:?}",
                ports_file.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `q` quantile (0 to 1, nearest rank) of `sorted`, which must not
/// be empty.
pub fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> T {
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// `p50 … ms, p99 … ms, max … ms` of `times` (nearest rank).
pub fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let at = |q: f64| nearest_rank(times, q).as_secs_f64() * 1000.0;
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    )
}
