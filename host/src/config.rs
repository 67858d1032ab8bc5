//! Settings from the command line, the environment and an optional `.env`.

use std::net::IpAddr;
use std::path::PathBuf;

/// Where the host listens and keeps its files.
#[derive(Clone, Debug, clap::Args)]
pub struct Settings {
    /// The manifest listing components, their routes and their grants.
    #[arg(long, env = "SUMMER_MANIFEST", default_value = "summer.toml")]
    pub manifest: PathBuf,

    /// Directory for the embedded databases and the compiled-component cache.
    #[arg(long, env = "SUMMER_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Address to listen on.
    #[arg(long, env = "SUMMER_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on; 0 picks a free one (the address is printed).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
}

impl Settings {
    /// Where compiled components are cached between runs.
    pub fn compile_cache_dir(&self) -> PathBuf {
        self.data_dir.join("cache").join("components")
    }
}

/// Loads `.env` from the working directory if there is one. Variables already
/// set in the environment win over the file.
pub fn load_dotenv() -> Result<(), dotenvy::Error> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
