"""The only package that talks to the kernel: a lean netlink codec of our own,
namespace handles, TUN/TAP ioctls and sysctls."""
