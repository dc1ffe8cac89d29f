// VCD dump root for xbar_top: compile as an extra top (iverilog -s xbar_top -s xbar_dump).
// File name from the plusarg +vcd=<path>, else the parameter VCD_FILE.
// With vvp, the dumper must be VCD: give the extended argument -vcd LAST on the vvp command
// line (cocotb passes -none / -fst otherwise; see docs/controller.md).
//
// By default only the harness's ports are dumped (control markers, select lines, host bus,
// v_prog, v_sense) plus the real `v` of every generate scope g_in[i] (input DAC outputs) and
// g_nrn[n] (neuron voltages), not the free-running clock or the controller's per-cycle
// counters: a paper-scale run (seconds at 1 MHz) otherwise spends most of its VCD on clock
// edges.  +dump_all dumps the whole hierarchy, clock and internals included.
//
// The scopes g_in[i] / g_nrn[n] exist N_IN / N_HID+N_OUT times, numbers this module cannot
// know (a hierarchical parameter is not a constant here), so it triggers xbar_top.dump_ports
// once the file is open and every scope dumps its own `v`.  VCD names: xbar_top.g_in[3].v
// (scope "g_in[3]" of type begin inside module xbar_top, real variable "v").
`timescale 1ns / 1ps

module xbar_dump;
  parameter VCD_FILE = "xbar_top.vcd";
  reg [8*1024-1:0] path;
  initial begin
    if (!$value$plusargs("vcd=%s", path)) path = VCD_FILE;
    $dumpfile(path);
    if ($test$plusargs("dump_all")) begin
      $dumpvars(0, xbar_top);
    end else begin
      $dumpvars(0, xbar_top.rst_n, xbar_top.host_we, xbar_top.host_addr, xbar_top.host_wdata,
                xbar_top.host_rdata, xbar_top.busy, xbar_top.done, xbar_top.start,
                xbar_top.phase, xbar_top.sel, xbar_top.infer_en, xbar_top.cur_dev,
                xbar_top.adc_sample, xbar_top.v_prog, xbar_top.v_sense);
      // #0: after every generate scope of xbar_top waits on the event (all start at time 0)
      #0 -> xbar_top.dump_ports;
    end
  end
endmodule
