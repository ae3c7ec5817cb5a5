"""Names and specifiers -> a module and its inputs: the zoo, files, modules, torchvision,
timm, exported programs; input specs; devices; construction on meta; the CPU fallback."""
