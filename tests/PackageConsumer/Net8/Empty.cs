// Restored only (the check is on the resolved packages); the project needs no code of its own.
namespace PackageConsumer.Net8;
