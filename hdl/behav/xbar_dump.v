// VCD dump root for xbar_top: compile as an extra top (iverilog -s xbar_top -s xbar_dump).
// File name from the plusarg +vcd=<path>, else the parameter VCD_FILE.
// With vvp, the dumper must be VCD: give the extended argument -vcd LAST on the vvp command
// line (cocotb passes -none / -fst otherwise; see docs/controller.md).
`timescale 1ns / 1ps

module xbar_dump;
  parameter VCD_FILE = "xbar_top.vcd";
  reg [8*1024-1:0] path;
  initial begin
    if (!$value$plusargs("vcd=%s", path)) path = VCD_FILE;
    $dumpfile(path);
    $dumpvars(0, xbar_top);
  end
endmodule
