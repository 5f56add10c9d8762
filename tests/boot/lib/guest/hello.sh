#!/bin/sh
echo hello from bootgate
