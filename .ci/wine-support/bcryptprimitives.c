/*
 * bcryptprimitives.dll for Wine 8 (Debian 12's wine64), used only by our
 * tests under Wine (.ci/wine-setup builds it with x86_64-w64-mingw32-gcc and
 * puts it in the test prefix's system32). It papers over two gaps between
 * Wine 8 and what the Go 1.26 runtime expects of Windows 10:
 *
 * 1. ProcessPrng. The Go runtime loads bcryptprimitives.dll at start and
 *    takes its random bytes from ProcessPrng; Wine 8 has no such DLL (Wine 9
 *    has), so every Go program died before main. Ours fills the buffer from
 *    advapi32's SystemFunction036 (RtlGenRandom), which Wine 8 has.
 *
 * 2. FileDispositionInformationEx. os.RemoveAll (and so every t.TempDir
 *    cleanup) deletes through NtSetInformationFile(FileDispositionInformationEx)
 *    and falls back to the older FileDispositionInformation when Windows
 *    answers STATUS_INVALID_INFO_CLASS (Windows before 10 1607),
 *    STATUS_INVALID_PARAMETER or STATUS_NOT_SUPPORTED (FAT32 and the like).
 *    Wine 8 answers STATUS_NOT_IMPLEMENTED, which Go passes up as "Invalid
 *    function". Because the runtime loads this DLL before any Go code runs,
 *    DllMain can point the program's import of GetProcAddress (the one the
 *    runtime resolves ntdll's functions through) at a wrapper that hands out
 *    a NtSetInformationFile answering STATUS_INVALID_INFO_CLASS there
 *    instead. Go then takes the path it takes on older Windows; nothing else
 *    changes.
 */
#include <windows.h>
#include <winternl.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	/* RtlGenRandom takes a ULONG length; a SIZE_T may be larger. */
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

#define FILE_DISPOSITION_INFORMATION_EX_CLASS 64
#ifndef STATUS_NOT_IMPLEMENTED
#define STATUS_NOT_IMPLEMENTED ((NTSTATUS)0xC0000002L)
#endif
#ifndef STATUS_INVALID_INFO_CLASS
#define STATUS_INVALID_INFO_CLASS ((NTSTATUS)0xC0000003L)
#endif

typedef NTSTATUS(WINAPI *set_information_file_fn)(HANDLE, PIO_STATUS_BLOCK, PVOID, ULONG, ULONG);
typedef FARPROC(WINAPI *get_proc_address_fn)(HMODULE, LPCSTR);

static set_information_file_fn real_set_information_file;
static get_proc_address_fn real_get_proc_address;

static NTSTATUS WINAPI set_information_file(HANDLE h, PIO_STATUS_BLOCK iosb, PVOID info, ULONG len, ULONG class)
{
	NTSTATUS status = real_set_information_file(h, iosb, info, len, class);
	if (class == FILE_DISPOSITION_INFORMATION_EX_CLASS && status == STATUS_NOT_IMPLEMENTED)
		status = STATUS_INVALID_INFO_CLASS;
	return status;
}

static FARPROC WINAPI get_proc_address(HMODULE module, LPCSTR name)
{
	FARPROC p = real_get_proc_address(module, name);
	if (p != NULL && p == (FARPROC)real_set_information_file)
		return (FARPROC)set_information_file;
	return p;
}

/* Replace every slot of the program's import address tables that holds
 * GetProcAddress with our wrapper. */
static void hook_imports(void)
{
	BYTE *base = (BYTE *)GetModuleHandleW(NULL);
	IMAGE_DOS_HEADER *dos = (IMAGE_DOS_HEADER *)base;
	IMAGE_NT_HEADERS *nt;
	IMAGE_DATA_DIRECTORY dir;
	IMAGE_IMPORT_DESCRIPTOR *imp;

	if (dos->e_magic != IMAGE_DOS_SIGNATURE)
		return;
	nt = (IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
	dir = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
	if (dir.VirtualAddress == 0)
		return;
	for (imp = (IMAGE_IMPORT_DESCRIPTOR *)(base + dir.VirtualAddress); imp->Name != 0; imp++) {
		ULONG_PTR *slot;
		for (slot = (ULONG_PTR *)(base + imp->FirstThunk); *slot != 0; slot++) {
			DWORD old;
			if (*slot != (ULONG_PTR)real_get_proc_address)
				continue;
			if (!VirtualProtect(slot, sizeof *slot, PAGE_READWRITE, &old))
				continue;
			*slot = (ULONG_PTR)get_proc_address;
			VirtualProtect(slot, sizeof *slot, old, &old);
		}
	}
}

BOOL WINAPI DllMain(HINSTANCE dll, DWORD reason, LPVOID reserved)
{
	(void)dll;
	(void)reserved;
	if (reason == DLL_PROCESS_ATTACH) {
		HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
		HMODULE kernel32 = GetModuleHandleW(L"kernel32.dll");
		if (ntdll != NULL && kernel32 != NULL) {
			real_set_information_file = (set_information_file_fn)GetProcAddress(ntdll, "NtSetInformationFile");
			real_get_proc_address = (get_proc_address_fn)GetProcAddress(kernel32, "GetProcAddress");
			if (real_set_information_file != NULL && real_get_proc_address != NULL)
				hook_imports();
		}
	}
	return TRUE;
}
