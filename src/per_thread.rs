//! `PerThread<T>`: one value per thread, each on cache lines of its own. What every bearer
//! request reads is kept this way, so two HTTP workers on two cores never write the same line.

use thread_local::ThreadLocal;

/// `thread_local`'s values sit side by side in one allocation; two workers' values would share
/// a line (false sharing) without this padding. 128 bytes: adjacent-line prefetching pairs lines.
#[repr(align(128))]
#[derive(Default)]
struct Padded<T>(T);

pub struct PerThread<T: Send>(ThreadLocal<Padded<T>>);

impl<T: Send> Default for PerThread<T> {
    fn default() -> PerThread<T> {
        PerThread(ThreadLocal::new())
    }
}

impl<T: Send> PerThread<T> {
    /// This thread's value, made by `make` on its first use.
    pub fn get_or(&self, make: impl FnOnce() -> T) -> &T {
        &self.0.get_or(|| Padded(make())).0
    }

    /// Every thread's value.
    pub fn iter(&self) -> impl Iterator<Item = &T>
    where
        T: Sync,
    {
        self.0.iter().map(|padded| &padded.0)
    }
}

impl<T: Send + Default> PerThread<T> {
    /// This thread's value, `T::default()` on its first use.
    pub fn get(&self) -> &T {
        self.get_or(T::default)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn each_thread_has_its_own_value_on_lines_of_its_own() {
        let values: PerThread<Cell<u32>> = PerThread::default();
        values.get().set(1);
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(values.get().get(), 0, "a new thread starts from the default");
                values.get().set(2);
            });
        });
        assert_eq!(values.get().get(), 1);
        let shared: PerThread<Mutex<u32>> = PerThread::default();
        let mine = shared.get() as *const _ as usize;
        std::thread::scope(|s| {
            s.spawn(|| {
                let theirs = shared.get() as *const _ as usize;
                assert!(mine.abs_diff(theirs) >= 128, "{mine:#x} and {theirs:#x} share a line");
            });
        });
        assert_eq!(shared.iter().count(), 2);
    }
}
