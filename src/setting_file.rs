//! Files a setting names (a client certificate, workload identity's token file): opened only
//! when they are regular files, and read up to a cap. `/dev/zero` would be read until memory
//! runs out, and a FIFO would hang the start; so the open does not wait (`O_NONBLOCK`, which a
//! regular file ignores), the opened handle's own type and size are checked, and at most one
//! byte past the cap is read.

use std::fs::{File, FileType, OpenOptions};
use std::io::Read;

/// Why a named file is refused. Each message goes after "the … file", and never holds the
/// path or anything read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// It could not be opened or read; the reason is the I/O error's kind.
    #[error("could not be read ({})", .0.kind())]
    Unreadable(#[source] std::io::Error),
    /// A directory, a FIFO, a device, a socket.
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    /// Larger than the cap, in bytes.
    #[error("is larger than {} KiB", .0 / 1024)]
    TooLarge(u64),
}

/// The whole file at `path`, if it is a regular file of at most `cap` bytes.
pub fn read(path: &str, cap: u64) -> Result<Vec<u8>, FileError> {
    let file = open(path, cap)?;
    let mut bytes = Vec::new();
    // One byte past the cap tells a file that grew since it was checked.
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(FileError::Unreadable)?;
    if bytes.len() as u64 > cap {
        return Err(FileError::TooLarge(cap));
    }
    Ok(bytes)
}

/// Whether the file at `path` is a regular file of at most `cap` bytes, for a file a library
/// reads itself; nothing is read.
pub fn check(path: &str, cap: u64) -> Result<(), FileError> {
    open(path, cap).map(drop)
}

/// The file at `path`, opened without waiting, once its handle shows a regular file within the cap.
fn open(path: &str, cap: u64) -> Result<File, FileError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(FileError::Unreadable)?;
    let metadata = file.metadata().map_err(FileError::Unreadable)?;
    if !metadata.is_file() {
        return Err(FileError::NotRegular(kind(metadata.file_type())));
    }
    if metadata.len() > cap {
        return Err(FileError::TooLarge(cap));
    }
    Ok(file)
}

/// What a file that is not regular is, in words.
fn kind(file_type: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("signalr-negotiate-setting-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn a_regular_file_within_the_cap_is_read_whole() {
        let path = scratch("small");
        std::fs::write(&path, b"0123456789").unwrap();
        let path = path.to_str().unwrap();
        assert_eq!(read(path, 10).unwrap(), b"0123456789");
        assert!(check(path, 10).is_ok());
        assert!(matches!(read(path, 9), Err(FileError::TooLarge(9))));
        assert!(matches!(check(path, 9), Err(FileError::TooLarge(9))));
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_unread() {
        let cases = [
            ("/dev/zero", "is a character device, not a regular file"),
            ("/dev/null", "is a character device, not a regular file"),
            ("/", "is a directory, not a regular file"),
        ];
        for (path, message) in cases {
            assert_eq!(read(path, 64 * 1024).unwrap_err().to_string(), message, "{path}");
        }
        let fifo = scratch("fifo");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let error = read(fifo.to_str().unwrap(), 64 * 1024).unwrap_err();
        assert_eq!(error.to_string(), "is a FIFO (named pipe), not a regular file");
        let missing = read("/nonexistent/signalr-negotiate/file", 1).unwrap_err().to_string();
        assert_eq!(missing, "could not be read (entity not found)");
    }
}
