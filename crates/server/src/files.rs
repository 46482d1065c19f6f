//! The data directory and the files that hold secrets, kept private to the service's user:
//! the directory 0700, the database (and its `-wal`/`-shm` files) 0600, whatever the umask.
//! A looser directory or database file found at start is tightened (and logged); a master key
//! or root-credentials file that others may read or write stops the start.

use std::path::Path;

use crate::StartError;

/// The permission bits of group and others.
#[cfg(unix)]
const OTHERS: u32 = 0o077;

fn io_error(path: &Path, e: std::io::Error) -> StartError {
    StartError::DataDir {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Creates the data directory (mode 0700) when missing; tightens it to 0700 when group or
/// others have any access.
pub(crate) fn prepare_data_dir(dir: &Path) -> Result<(), StartError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    let existed = dir.is_dir();
    builder.create(dir).map_err(|e| io_error(dir, e))?;
    restrict(dir, 0o700, existed)
}

/// Creates the database file with mode 0600 before SQLite opens it (SQLite gives its `-wal`
/// and `-shm` files the database's mode); tightens the database and those files to 0600 when
/// they exist with a looser mode.
pub(crate) fn prepare_database(db: &Path) -> Result<(), StartError> {
    let existed = db.exists();
    if !existed {
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(db).map_err(|e| io_error(db, e))?;
    }
    restrict(db, 0o600, existed)?;
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = Path::new(&name);
        if path.exists() {
            restrict(path, 0o600, true)?;
        }
    }
    Ok(())
}

/// Sets `path` to `mode` when group or others have any access to it (always for a file just
/// created, so the umask does not matter); logs when an existing one was looser.
#[cfg(unix)]
fn restrict(path: &Path, mode: u32, existed: bool) -> Result<(), StartError> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)
        .map_err(|e| io_error(path, e))?
        .permissions()
        .mode()
        & 0o777;
    if current == mode || (existed && current & OTHERS == 0) {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error(path, e))?;
    if existed {
        tracing::warn!(
            path = %path.display(),
            was = format!("{current:04o}"),
            now = format!("{mode:04o}"),
            "tightened the mode of a file others could reach"
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32, _existed: bool) -> Result<(), StartError> {
    Ok(())
}

/// Refuses a secret-holding file (the master key, root-credentials) that group or others may
/// access. A missing file is fine (it is created 0600).
#[cfg(unix)]
pub(crate) fn check_private(path: &Path) -> Result<(), StartError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode() & 0o777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(path, e)),
    };
    if mode & OTHERS != 0 {
        return Err(StartError::FileMode {
            path: path.display().to_string(),
            mode: format!("{mode:04o}"),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn check_private(_path: &Path) -> Result<(), StartError> {
    Ok(())
}
