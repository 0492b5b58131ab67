// The entry point of the static-pie programs that run on every container's
// create and delete (ima-runc-full, ima-monitor): it maps the program's own
// image with one madvise per loadable segment (four here), then hands over to
// the C library's _start.
//
// Why: such a program starts by relocating itself. Every page of
// .data.rel.ro, .got and .data holds pointers to fix up, so each one is a
// write fault (read from the page cache, then copied), about 110 faults for
// ima-runc-full and 130 for ima-monitor, before main; the code it then runs
// faults in its text 16 pages at a time. On a virtual machine a fault is
// dear: 10 us per anonymous page on the machines the benchmarks run on, where
// MADV_POPULATE_WRITE maps the same pages at 0.5 us each (the kernel walks
// them without a trap per page). `perf stat -r 100 ima-monitor --help`: 188
// faults and 4.6 ms before, 18 faults and 3.3 ms with both populated.
//
// The writable segments are populated for writing, the others for reading.
// A kernel older than 5.14 refuses both advices (EINVAL): the program then
// faults as it would have anyway. Nothing here may need a relocation, TLS or
// the stack protector's canary: it runs before any of them is set up. x86_64
// only (cmake/populate-image.cmake); elsewhere the C library's entry is used.
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

extern "C" {

// The ELF header of this program, as the linker places it at the load address.
extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

namespace {

long raw_madvise(unsigned long start, unsigned long length, long advice) {
  long ret;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(static_cast<long>(SYS_madvise)), "D"(start), "S"(length), "d"(advice)
               : "rcx", "r11", "memory");
  return ret;
}

}  // namespace

// A static-pie program is linked at address 0, so the ELF header's address is
// the load base that p_vaddr is relative to.
__attribute__((used, visibility("hidden"), no_stack_protector)) void imashim_populate_image() {
  constexpr unsigned long kPage = 4096;
  const auto base = reinterpret_cast<unsigned long>(&__ehdr_start);
  const auto* ph = reinterpret_cast<const ElfW(Phdr)*>(base + __ehdr_start.e_phoff);
  for (unsigned i = 0; i < __ehdr_start.e_phnum; ++i) {
    if (ph[i].p_type != PT_LOAD) continue;
    unsigned long start = (base + ph[i].p_vaddr) & ~(kPage - 1);
    unsigned long end = (base + ph[i].p_vaddr + ph[i].p_memsz + kPage - 1) & ~(kPage - 1);
    (void)raw_madvise(start, end - start, (ph[i].p_flags & PF_W) ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
  }
}

}  // extern "C"

// The kernel enters with the stack pointer at argc and every other register
// zero; _start expects the same, so the stack pointer is kept in a register
// the call preserves and %rdx (_start's "function to run at exit") is zeroed
// again.
asm(R"(
  .text
  .globl imashim_entry
  .type imashim_entry, @function
imashim_entry:
  endbr64
  mov %rsp, %rbx
  and $-16, %rsp
  call imashim_populate_image
  mov %rbx, %rsp
  xor %ebx, %ebx
  xor %edx, %edx
  jmp _start
  .size imashim_entry, . - imashim_entry
)");
