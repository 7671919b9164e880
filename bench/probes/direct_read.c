// How fast this machine's disk delivers a cold file with direct I/O, apart
// from everything a loader adds: the file's pages are dropped from the page
// cache, a buffer as large as the file is allocated and populated first
// (transparent huge pages advised), then THREADS threads read it with
// O_DIRECT in PIECE_MIB pieces, each taking the next piece. Prints the time
// of the allocation and of the reads separately.
//
// Used for bench/RESULTS.md ("The Python goals, run by run"): whether more
// requests in flight (an io_uring reader) could make cold loads faster.
//
//   cc -O2 -o /tmp/direct_read bench/probes/direct_read.c -lpthread
//   /tmp/direct_read FILE THREADS [PIECE_MIB]     (FILE: any file of a few GiB)
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fd;
static size_t size, piece;
static char* buf;
static atomic_size_t next_piece;
static atomic_int failed;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void* reader(void* unused) {
  (void)unused;
  for (;;) {
    size_t off = atomic_fetch_add(&next_piece, 1) * piece;
    if (off >= size) return NULL;
    size_t len = size - off < piece ? size - off : piece;
    // O_DIRECT needs whole blocks: the last piece is rounded up (the read
    // stops at the end of the file; the buffer has room).
    size_t want = (len + 4095) & ~(size_t)4095;
    size_t done = 0;
    while (done < len) {
      ssize_t n = pread(fd, buf + off + done, want - done, (off_t)(off + done));
      if (n <= 0) {
        atomic_store(&failed, 1);
        return NULL;
      }
      done += (size_t)n;
    }
  }
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s FILE THREADS [PIECE_MIB]\n", argv[0]);
    return 2;
  }
  int threads = atoi(argv[2]);
  piece = (size_t)(argc > 3 ? atoi(argv[3]) : 8) << 20;
  if (threads < 1 || threads > 256 || piece == 0) return 2;
  int cached = open(argv[1], O_RDONLY);
  struct stat st;
  if (cached < 0 || fstat(cached, &st) != 0) return perror(argv[1]), 1;
  size = (size_t)st.st_size;
  posix_fadvise(cached, 0, 0, POSIX_FADV_DONTNEED);
  fd = open(argv[1], O_RDONLY | O_DIRECT);
  if (fd < 0) return perror("O_DIRECT"), 1;
  const size_t hp = 2 << 20, span = (size + hp - 1) / hp * hp;
  double t0 = now();
  char* raw = mmap(NULL, span + hp, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return perror("mmap"), 1;
  buf = (char*)(((size_t)raw + hp - 1) & ~(hp - 1));
  madvise(buf, span, MADV_HUGEPAGE);
  madvise(buf, span, MADV_POPULATE_WRITE);
  double t1 = now();
  pthread_t th[256];
  for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, reader, NULL);
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  double t2 = now();
  if (atomic_load(&failed)) return fprintf(stderr, "a read failed\n"), 1;
  printf("threads=%d piece=%zu MiB: allocate %.3f s, read %.3f s (%.2f GB/s)\n", threads, piece >> 20, t1 - t0,
         t2 - t1, size / (t2 - t1) / 1e9);
  return 0;
}
